"""Spot decisions: which stops are Spot failures, the on-demand strategy that keeps capacity, when to go back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.domain.spot import (
    MAX_WEIGHT,
    Episode,
    SpotService,
    StoredEpisode,
    StrategyItem,
    fallback_strategy,
    is_fargate_spot_interruption,
    is_spot_placement_failure,
    judge_fallback,
    judge_shift_back,
    judge_signal,
    on_demand_for,
    unassociated_refusal,
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


def test_the_provider_that_failed_is_named_by_capacity_provider_arns_not_by_the_reason() -> None:
    # AWS's own sample reports a Fargate Spot shortage as reason RESOURCE:FARGATE with the FARGATE_SPOT ARN, so the
    # reason names the kind of resource, and on a FARGATE + FARGATE_SPOT service only the ARNs tell whose it was.
    arn = "arn:aws:ecs:eu-central-1:111122223333:capacity-provider/"
    assert is_spot_placement_failure("RESOURCE:FARGATE", [arn + "FARGATE_SPOT"])
    assert not is_spot_placement_failure("RESOURCE:FARGATE", [arn + "FARGATE"])
    # Both short: Spot's share still cannot be placed, and moving it is what keeps the service's capacity asked for.
    assert is_spot_placement_failure("RESOURCE:FARGATE", [arn + "FARGATE", arn + "FARGATE_SPOT"])


@pytest.mark.parametrize(
    ("original", "fallback"),
    [
        (s(("FARGATE_SPOT", 1, 2), ("FARGATE", 1, 0)), s(("FARGATE", 2, 2))),
        (s(("FARGATE", 1, 1), ("FARGATE_SPOT", 3, 0)), s(("FARGATE", 4, 1))),
        (s(("FARGATE_SPOT", 1, 0)), s(("FARGATE", 1, 0))),
        (s(("FARGATE_SPOT", 0, 3)), s(("FARGATE", 1, 3))),
        # One provider left: only its weight being above zero matters, and ECS accepts at most 1000.
        (s(("FARGATE_SPOT", 800, 0), ("FARGATE", 400, 0)), s(("FARGATE", 1000, 0))),
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


def test_merged_weights_above_the_ecs_limit_keep_their_proportions() -> None:
    original = s(("asg-spot", 900, 0), ("asg-on-demand", 300, 1), ("asg-reserved", 400, 0))

    assert fallback_strategy(original, {"asg-spot"}, "asg-on-demand") == s(
        ("asg-on-demand", 1000, 1), ("asg-reserved", 333, 0)
    )


VALID_ITEM = st.tuples(st.sampled_from(["FARGATE", "FARGATE_SPOT"]), st.integers(0, MAX_WEIGHT), st.integers(0, 9))


@given(st.lists(VALID_ITEM, min_size=1, max_size=2, unique_by=lambda item: item[0]), st.integers(0, 1))
def test_every_fallback_of_a_valid_strategy_is_one_ecs_accepts(items: list[tuple[str, int, int]], based: int) -> None:
    # A strategy ECS accepted: at most one item with a base, a weight above zero somewhere.
    items = [(p, w, b if i == based else 0) for i, (p, w, b) in enumerate(items)]
    if all(w == 0 for _, w, _ in items):
        items[0] = (items[0][0], 1, items[0][2])

    fallback = fallback_strategy(s(*items), SPOT, "FARGATE")

    assert all(0 <= item.weight <= MAX_WEIGHT for item in fallback)
    assert sum(1 for item in fallback if item.base) <= 1
    assert any(item.weight > 0 for item in fallback)
    assert sum(item.base for item in fallback) == sum(b for _, _, b in items)  # no base capacity lost


def test_a_fallback_onto_a_provider_the_cluster_lacks_is_refused_and_said_in_slack() -> None:
    svc = service(s(("FARGATE_SPOT", 1, 0)))
    verdict = judge_fallback(svc, SPOT, "FARGATE")

    refusal = unassociated_refusal(svc, verdict.fallback, frozenset({"FARGATE_SPOT"}))

    assert refusal is not None
    assert not refusal.act
    assert refusal.notify
    assert "FARGATE is not a capacity provider of cluster c" in refusal.reason
    assert unassociated_refusal(svc, verdict.fallback, frozenset({"FARGATE", "FARGATE_SPOT"})) is None


def test_an_ec2_fallback_needs_the_on_demand_provider_associated_too() -> None:
    svc = service(s(("asg-spot", 3, 0), ("asg-on-demand", 1, 1)))
    verdict = judge_fallback(svc, {"asg-spot"}, "asg-on-demand")

    refusal = unassociated_refusal(svc, verdict.fallback, frozenset({"asg-spot"}))

    assert refusal is not None
    assert "asg-on-demand is not a capacity provider of cluster c" in refusal.reason


@pytest.mark.parametrize("value", ["on", "On", "ON", "true", "True", "yes", "YES"])
def test_every_switch_word_for_on_opts_a_service_in(value: str) -> None:
    svc = service(s(("FARGATE_SPOT", 1, 0)), tags={"steward:spot-fallback": value})

    assert judge_fallback(svc, SPOT, "FARGATE").act


@pytest.mark.parametrize("value", ["off", "No", "false"])
def test_a_service_switched_off_is_not_opted_in(value: str) -> None:
    svc = service(s(("FARGATE_SPOT", 1, 0)), tags={"steward:spot-fallback": value})

    verdict = judge_fallback(svc, SPOT, "FARGATE")

    assert not verdict.act
    assert "not opted in" in verdict.reason


@pytest.mark.parametrize("value", ["", "enabled", "sure"])
def test_a_service_with_no_switch_word_is_not_shifted_and_its_team_is_told_what_to_set(value: str) -> None:
    svc = service(s(("FARGATE_SPOT", 1, 0)), tags={"steward:spot-fallback": value})

    verdict = judge_fallback(svc, SPOT, "FARGATE")

    assert not verdict.act
    assert verdict.notify
    assert "is not a switch word" in verdict.reason
    assert verdict.invalid is not None


def test_an_opt_in_with_spaces_around_it_is_refused_in_slack_with_the_value_to_set() -> None:
    # IAM compares the tag value as written: the role's grant would refuse UpdateService for " on ".
    svc = service(s(("FARGATE_SPOT", 1, 0)), tags={"steward:spot-fallback": " on "})

    verdict = judge_fallback(svc, SPOT, "FARGATE")

    assert not verdict.act
    assert verdict.notify
    assert "spaces" in verdict.reason


@pytest.mark.parametrize(
    ("stored", "outcome"),
    [
        (StoredEpisode(), ""),  # this signal claimed the episode
        (StoredEpisode(status="fallback", ours=False, fell_back_at="15:14"), "duplicate"),
        (StoredEpisode(status="ignored", ours=False, claimed_at=NOW - timedelta(minutes=9)), "left alone"),
        (StoredEpisode(status="ignored", ours=False, claimed_at=NOW - timedelta(minutes=11)), ""),  # look again
        (StoredEpisode(ours=False, claimed_at=NOW - timedelta(minutes=1)), "duplicate"),  # another one is on it
        (StoredEpisode(ours=False, claimed_at=NOW - timedelta(minutes=3)), ""),  # crashed: taken over
    ],
)
def test_a_signal_starts_the_episode_only_when_no_live_invocation_holds_or_handled_it(
    stored: StoredEpisode, outcome: str
) -> None:
    seen = judge_signal(stored, NOW)

    assert seen.go_on is (outcome == "")
    assert seen.outcome == outcome
