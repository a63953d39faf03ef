"""Spot fallback decisions: is this a Spot failure, may we act on this service, what on-demand strategy keeps its
capacity, and is Spot stable enough to go back."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

from msgspec import Struct

from steward.domain.services import (
    FARGATE,
    FARGATE_SPOT,
    SPOT_FALLBACK_TAG,
    InvalidTag,
    Strategy,
    StrategyItem,
    read_switch,
)

ON_DEMAND_PROVIDER_TAG = "steward:on-demand-provider"
SPOT_STOP_CODES = {"SpotInterruption", "TerminationNotice"}
SPOT_STOP_REASON = "Your Spot Task was interrupted"
# CapacityProviderStrategyItem (ECS API Reference): weight 0..1000, and only one item in a strategy may have a base.
MAX_WEIGHT = 1000


def describe_strategy(strategy: Strategy) -> str:
    """'FARGATE_SPOT base 2 weight 1 + FARGATE weight 1', as people write it."""
    parts = []
    for item in strategy:
        words = [item.provider] + ([f"base {item.base}"] if item.base else []) + [f"weight {item.weight}"]
        parts.append(" ".join(words))
    return " + ".join(parts) or "(none)"


class SpotService(Struct, frozen=True):
    """What the fallback needs to know about a live service."""

    cluster: str
    name: str
    desired_count: int
    strategy: Strategy
    tags: dict[str, str]
    launch_type: str = ""
    deployment_controller: str = "ECS"
    status: str = "ACTIVE"
    arn: str = ""  # its service ARN: the region for console links


class Verdict(Struct, frozen=True):
    act: bool
    reason: str
    fallback: Strategy = ()
    notify: bool = False  # a refusal the service's team can fix, so it is said in Slack and not only logged
    invalid: InvalidTag | None = None  # the opt-in tag's value could not be read (logged and counted)


def is_fargate_spot_interruption(capacity_provider: str, stop_code: str, stopped_reason: str) -> bool:
    """`launchType` says FARGATE even for Spot tasks, so only the capacity provider tells."""
    if capacity_provider != FARGATE_SPOT:
        return False
    return stop_code in SPOT_STOP_CODES or stopped_reason.startswith(SPOT_STOP_REASON)


def is_spot_placement_failure(reason: str, capacity_provider_arns: list[str]) -> bool:
    """The reason names the kind of resource (AWS's sample: a Fargate Spot shortage is RESOURCE:FARGATE); the ARNs
    name the provider whose tasks could not be placed."""
    providers = {arn.rsplit("/", 1)[-1] for arn in capacity_provider_arns}
    return reason.startswith("RESOURCE:") and FARGATE_SPOT in providers


def fallback_strategy(strategy: Strategy, spot_providers: set[str], on_demand: str) -> Strategy:
    """Move every Spot item's weight and base to the on-demand provider, keeping the order of first appearance."""
    merged: dict[str, StrategyItem] = {}
    for item in strategy:
        provider = on_demand if item.provider in spot_providers else item.provider
        current = merged.get(provider, StrategyItem(provider))
        merged[provider] = StrategyItem(provider, current.weight + item.weight, current.base + item.base)
    result = tuple(merged.values())
    if all(item.weight == 0 for item in result):
        # ECS needs a weight somewhere once the base is placed; one keeps the capacity going to the same provider.
        result = tuple(StrategyItem(i.provider, 1 if i.provider == on_demand else i.weight, i.base) for i in result)
    return _within_weight_limit(result)


def _within_weight_limit(strategy: Strategy) -> Strategy:
    """Scale the weights down to ECS's limit, keeping their proportions and every non-zero weight above zero."""
    heaviest = max((item.weight for item in strategy), default=0)
    if heaviest <= MAX_WEIGHT:
        return strategy
    return tuple(
        StrategyItem(item.provider, max(1, item.weight * MAX_WEIGHT // heaviest) if item.weight else 0, item.base)
        for item in strategy
    )


def unassociated_refusal(service: SpotService, fallback: Strategy, associated: frozenset[str]) -> Verdict | None:
    """ECS rejects a strategy naming a provider the cluster does not have; say which, instead of failing each signal."""
    missing = [item.provider for item in fallback if item.provider not in associated]
    if not missing:
        return None
    names = ", ".join(missing)
    verb = "is not a capacity provider" if len(missing) == 1 else "are not capacity providers"
    return Verdict(
        False,
        f"{names} {verb} of cluster {service.cluster}, so ECS would reject the on-demand strategy; "
        f"associate {names} with the cluster (PutClusterCapacityProviders) for Steward to fall back",
        notify=True,
    )


def judge_fallback(service: SpotService, spot_providers: set[str], on_demand: str | None) -> Verdict:
    """May Steward shift this service to on-demand, and to what? Every refusal says why: the first rule that refuses
    decides."""
    for rule in FALLBACK_RULES:
        refusal = rule(service, spot_providers, on_demand)
        if refusal is not None:
            return refusal
    return Verdict(
        True, "Spot capacity failed the service", fallback_strategy(service.strategy, spot_providers, on_demand or "")
    )


def _inactive(service: SpotService, spot: set[str], on_demand: str | None) -> Verdict | None:
    return Verdict(False, f"service is {service.status}") if service.status != "ACTIVE" else None


def _not_opted_in(service: SpotService, spot: set[str], on_demand: str | None) -> Verdict | None:
    opted_in = read_switch(service.tags, SPOT_FALLBACK_TAG)
    if isinstance(opted_in, InvalidTag):
        # IAM compares the value as written (StringEqualsIgnoreCase), so only an exact switch word may act.
        return Verdict(False, f"{opted_in.sentence()}; {opted_in.fix}", notify=True, invalid=opted_in)
    if opted_in is not True:
        return Verdict(False, "not opted in (steward:spot-fallback is not on, true or yes)")
    return None


def _not_ecs_controlled(service: SpotService, spot: set[str], on_demand: str | None) -> Verdict | None:
    if service.deployment_controller == "ECS":
        return None
    return Verdict(
        False, f"{service.deployment_controller} deployment controller: its strategy is not Steward's to change"
    )


def _launch_type(service: SpotService, spot: set[str], on_demand: str | None) -> Verdict | None:
    if service.launch_type and not service.strategy:
        return Verdict(False, f"uses launch type {service.launch_type}, not a capacity provider strategy")
    return None


def _scaled_to_zero(service: SpotService, spot: set[str], on_demand: str | None) -> Verdict | None:
    if service.desired_count == 0:
        return Verdict(False, "desired count 0 (scaled to zero or held off by off-hours)")
    return None


def _no_spot(service: SpotService, spot: set[str], on_demand: str | None) -> Verdict | None:
    if {item.provider for item in service.strategy} & spot:
        return None
    return Verdict(False, f"no Spot provider in its strategy ({describe_strategy(service.strategy)})")


def _no_on_demand(service: SpotService, spot: set[str], on_demand: str | None) -> Verdict | None:
    if on_demand is not None:
        return None
    return Verdict(False, "no on-demand capacity provider to fall back to; tag steward:on-demand-provider", notify=True)


def _mixed_kinds(service: SpotService, spot: set[str], on_demand: str | None) -> Verdict | None:
    fargate = {FARGATE, FARGATE_SPOT}
    on_spot = {item.provider for item in service.strategy} & spot
    if (on_demand in fargate) == bool(on_spot & fargate):
        return None
    return Verdict(False, f"{on_demand} would mix Fargate and Auto Scaling group providers", notify=True)


# In the order they are asked: the first refusal is the reason given.
FALLBACK_RULES: tuple[Callable[[SpotService, set[str], str | None], Verdict | None], ...] = (
    _inactive,
    _not_opted_in,
    _not_ecs_controlled,
    _launch_type,
    _scaled_to_zero,
    _no_spot,
    _no_on_demand,
    _mixed_kinds,
)


def on_demand_for(service: SpotService, spot_providers: set[str]) -> str | None:
    """FARGATE for FARGATE_SPOT; for an EC2 Spot provider, the tagged one or the single other provider in use."""
    override = service.tags.get(ON_DEMAND_PROVIDER_TAG)
    if override:
        return override
    in_use = [item.provider for item in service.strategy]
    if any(provider == FARGATE_SPOT for provider in in_use if provider in spot_providers):
        return FARGATE
    others = [
        provider for provider in in_use if provider not in spot_providers and provider not in (FARGATE, FARGATE_SPOT)
    ]
    return others[0] if len(others) == 1 else None


class Episode(Struct, frozen=True):
    """One Spot drought for one service: what it ran on before, what Steward put it on, and when Spot last failed."""

    original: Strategy
    fallback: Strategy
    fell_back_at: datetime
    last_signal_at: datetime
    cause: str


def judge_shift_back(episode: Episode, current: Strategy, now: datetime, stable: timedelta) -> Verdict:
    quiet_for = now - episode.last_signal_at
    if quiet_for < stable:
        minutes = math.ceil((stable - quiet_for).total_seconds() / 60)
        return Verdict(False, f"Spot failed {int(quiet_for.total_seconds() // 60)} min ago; {minutes} min until stable")
    if set(current) != set(episode.fallback):
        return Verdict(False, "its strategy was changed by someone else since the fallback; leaving it as they set it")
    return Verdict(True, f"no Spot failure for {int(quiet_for.total_seconds() // 60)} min", episode.original)


# ------------------------------------------------------------------------------------------ one signal, one episode

STALE_CLAIM = timedelta(minutes=2)  # a claim this old without a fallback belongs to a crashed invocation
REMEMBER_REFUSAL = timedelta(minutes=10)  # repeated signals for a service we leave alone cost one write


class Signal(Struct, frozen=True):
    """A Spot failure that hit one service."""

    cluster: str
    service: str
    cause: str
    at: datetime
    spot_providers: frozenset[str] = frozenset({FARGATE_SPOT})

    @property
    def label(self) -> str:
        return f"{self.cluster}/{self.service}"


class ContainerInstance(Struct, frozen=True):
    """An EC2 instance registered to a cluster, and the capacity provider it was launched by."""

    cluster_arn: str
    arn: str
    capacity_provider: str


class StoredEpisode(Struct, frozen=True):
    """A service's episode as the state table holds it once this signal is noted."""

    status: str = ""  # "fallback" while on on-demand, "ignored" while a refusal is remembered
    ours: bool = True  # claimed by this invocation (a dry run, which claims nothing, acts as if it had)
    claimed_at: datetime | None = None
    fell_back_at: str = ""
    reason: str = ""


class SignalVerdict(Struct, frozen=True):
    go_on: bool
    outcome: str = ""  # when not going on: "duplicate" or "left alone"
    reason: str = ""


def judge_signal(stored: StoredEpisode, at: datetime) -> SignalVerdict:
    """Does this signal start the episode, or is it one more for an episode already handled?"""
    if stored.status == "fallback":
        return SignalVerdict(False, "duplicate", f"already on on-demand since {stored.fell_back_at}")
    claimed_at = stored.claimed_at
    if stored.status == "ignored" and claimed_at is not None and claimed_at + REMEMBER_REFUSAL > at:
        return SignalVerdict(False, "left alone", stored.reason)
    if not stored.ours and not (claimed_at is not None and at - claimed_at > STALE_CLAIM):
        return SignalVerdict(False, "duplicate", "another invocation is handling this episode")
    return SignalVerdict(True)  # ours, or a crashed invocation's to take over


class FallbackDecision(Struct, frozen=True):
    """What Steward does about one signal for one service, why, and what it stores for it."""

    signal: Signal
    service: SpotService | None
    verdict: Verdict

    @property
    def episode(self) -> Episode:
        """The record a fallback writes ahead of changing the strategy."""
        original = self.service.strategy if self.service else ()
        at, cause = self.signal.at, self.signal.cause
        return Episode(original, self.verdict.fallback, fell_back_at=at, last_signal_at=at, cause=cause)

    @property
    def strategy_change(self) -> str:
        return f"{describe_strategy(self.episode.original)} → {describe_strategy(self.verdict.fallback)}"


def decide_fallback(signal: Signal, service: SpotService | None) -> FallbackDecision:
    if service is None:
        return FallbackDecision(signal, None, Verdict(False, "service not found"))
    spot = set(signal.spot_providers)
    return FallbackDecision(signal, service, judge_fallback(service, spot, on_demand_for(service, spot)))


def confirm_fallback(decision: FallbackDecision, associated: frozenset[str]) -> FallbackDecision:
    """The fallback, unless it names a provider the cluster lacks."""
    if decision.service is None or not decision.verdict.act:
        return decision
    refusal = unassociated_refusal(decision.service, decision.verdict.fallback, associated)
    return FallbackDecision(decision.signal, decision.service, refusal) if refusal else decision


def decide_shift_back(episode: Episode, service: SpotService | None, now: datetime, stable: timedelta) -> Verdict:
    if service is None:
        return Verdict(False, "service no longer exists")
    return judge_shift_back(episode, service.strategy, now, stable)
