"""Spot decisions: which stops are Spot failures, the on-demand strategy that keeps capacity, when to go back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from steward.domain.spot import (
    Episode,
    SpotService,
    StrategyItem,
    fallback_strategy,
    is_fargate_spot_interruption,
    is_spot_placement_failure,
    judge_fallback,
    judge_shift_back,
    on_demand_for,
)

SPOT = {"FARGATE_SPOT"}
NOW = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)


def s(*items: tuple[str, int, int]) -> tuple[StrategyItem, ...]:
    return tuple(StrategyItem(provider, weight, base) for provider, weight, base in items)


@pytest.mark.parametrize(
    ("provider", "code", "reason", "expected"),
    [
        ("FARGATE_SPOT", "SpotInterruption", "Your Spot Task was interrupted.", True),
        ("FARGATE_SPOT", "TerminationNotice", "Your Spot Task was interrupted.", True),
        ("FARGATE_SPOT", "", "Your Spot Task was interrupted.", True),
        ("FARGATE_SPOT", "ServiceSchedulerInitiated", "Scaling activity initiated", False),
        ("FARGATE", "SpotInterruption", "Your Spot Task was interrupted.", False),  # launchType never decides
    ],
)
def test_only_fargate_spot_interruptions_count(provider: str, code: str, reason: str, expected: bool) -> None:
    assert is_fargate_spot_interruption(provider, code, reason) is expected


def test_a_placement_failure_counts_only_with_a_spot_provider() -> None:
    arn = "arn:aws:ecs:eu-central-1:111122223333:capacity-provider/"
    assert is_spot_placement_failure("RESOURCE:FARGATE", [arn + "FARGATE_SPOT"])
    assert not is_spot_placement_failure("RESOURCE:FARGATE", [arn + "FARGATE"])
    assert not is_spot_placement_failure("AGENT", [arn + "FARGATE_SPOT"])


@pytest.mark.parametrize(
    ("original", "fallback"),
    [
        (s(("FARGATE_SPOT", 1, 2), ("FARGATE", 1, 0)), s(("FARGATE", 2, 2))),
        (s(("FARGATE", 1, 1), ("FARGATE_SPOT", 3, 0)), s(("FARGATE", 4, 1))),
        (s(("FARGATE_SPOT", 1, 0)), s(("FARGATE", 1, 0))),
        (s(("FARGATE_SPOT", 0, 3)), s(("FARGATE", 1, 3))),
    ],
)
def test_the_fallback_moves_weight_and_base_to_on_demand(
    original: tuple[StrategyItem, ...], fallback: tuple[StrategyItem, ...]
) -> None:
    assert fallback_strategy(original, SPOT, "FARGATE") == fallback


def service(strategy: tuple[StrategyItem, ...], **overrides: object) -> SpotService:
    fields: dict[str, object] = {
        "cluster": "c",
        "name": "svc",
        "desired_count": 2,
        "strategy": strategy,
        "tags": {"steward:spot-fallback": "on"},
    }
    fields.update(overrides)
    return SpotService(**fields)  # type: ignore[arg-type]


def test_ec2_spot_providers_fall_back_to_the_other_auto_scaling_group_provider() -> None:
    svc = service(s(("asg-spot", 3, 0), ("asg-on-demand", 1, 1)))
    assert on_demand_for(svc, {"asg-spot"}) == "asg-on-demand"
    verdict = judge_fallback(svc, {"asg-spot"}, "asg-on-demand")
    assert verdict.act
    assert verdict.fallback == s(("asg-on-demand", 4, 1))


def test_an_ec2_spot_service_without_a_known_on_demand_provider_is_left_alone() -> None:
    svc = service(s(("asg-spot", 1, 0)))
    assert on_demand_for(svc, {"asg-spot"}) is None
    assert "steward:on-demand-provider" in judge_fallback(svc, {"asg-spot"}, None).reason
    tagged = service(
        s(("asg-spot", 1, 0)), tags={"steward:spot-fallback": "on", "steward:on-demand-provider": "asg-od"}
    )
    assert on_demand_for(tagged, {"asg-spot"}) == "asg-od"


def test_fargate_and_auto_scaling_group_providers_are_never_mixed() -> None:
    verdict = judge_fallback(service(s(("asg-spot", 1, 0))), {"asg-spot"}, "FARGATE")
    assert not verdict.act
    assert "mix Fargate and Auto Scaling group" in verdict.reason


def test_shift_back_waits_for_the_whole_stable_period_after_the_last_signal() -> None:
    strategy = s(("FARGATE_SPOT", 1, 2), ("FARGATE", 1, 0))
    episode = Episode(strategy, s(("FARGATE", 2, 2)), NOW, NOW + timedelta(minutes=20), "interruption")
    stable = timedelta(minutes=45)
    early = judge_shift_back(episode, episode.fallback, NOW + timedelta(minutes=64), stable)
    assert not early.act
    assert "1 min until stable" in early.reason
    ready = judge_shift_back(episode, episode.fallback, NOW + timedelta(minutes=65), stable)
    assert ready.act
    assert ready.fallback == strategy
