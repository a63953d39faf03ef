"""Spot fallback: one episode per service per Spot drought, one strategy change into it and one out of it.

First signal for a service, before UpdateService: one atomic write that records the signal and claims the episode,
one DescribeServices, one DescribeClusters (the on-demand provider must be associated with the cluster), one
write-ahead of the original and fallback strategies. A duplicate signal costs one write that finds the episode
already claimed (and pushes back the shift-back clock, never forward: a late signal leaves it where it is).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from msgspec import Struct
from pydantic import BaseModel

from steward.adapters import slack as slack_actions
from steward.adapters import spot_ecs
from steward.adapters.aws import is_transient
from steward.adapters.ecs import cluster_name
from steward.adapters.slack import SlackNotifier
from steward.adapters.spot_ecs import SpotEcs
from steward.adapters.spot_episodes import EPISODE_ACTIONS, EpisodeClaim, SpotEpisodes
from steward.apply import Applied, Change, Status, apply
from steward.domain.scope import Scope
from steward.domain.spot import (
    REMEMBER_REFUSAL,
    FallbackDecision,
    Signal,
    confirm_fallback,
    decide_fallback,
    describe_strategy,
    is_fargate_spot_interruption,
    is_spot_placement_failure,
    judge_signal,
)
from steward.models.ec2 import SpotInterruptionWarning
from steward.models.ecs import ServiceAction, SpotShiftBackTick, TaskStateChange
from steward.observability import logger, metrics
from steward.reports import spot_fallback as report
from steward.runtime import Runtime
from steward.settings.spot_fallback import SpotFallbackSettings
from steward.shift_back import ShiftBack, shift_back_one
from steward.shift_back import result as _result

IAM_ACTIONS = spot_ecs.SPOT_ACTIONS | slack_actions.IAM_ACTIONS | EPISODE_ACTIONS
DROUGHT_REPORTED = "dry run: this Spot drought was reported at its first signal; nothing changed"


class Spot(Struct, frozen=True):
    """What one run works with: the adapters, built once from the runtime, and how it runs."""

    ecs: SpotEcs
    episodes: SpotEpisodes
    slack: SlackNotifier
    dry_run: bool
    stable: timedelta
    scope: Scope = Scope("")  # the services this stack falls back; the empty one holds none

    @classmethod
    def of(cls, rt: Runtime[SpotFallbackSettings]) -> Spot:
        dry_run, settings = rt.settings.dry_run, rt.settings
        episodes = SpotEpisodes(rt.state, dry_run=dry_run)
        stable = timedelta(minutes=settings.stable_minutes)
        return cls(SpotEcs(rt.aws), episodes, rt.slack, dry_run, stable, settings.scope)


def handle(rt: Runtime[SpotFallbackSettings], event: BaseModel) -> dict[str, Any]:
    spot = Spot.of(rt)
    if isinstance(event, SpotShiftBackTick):
        return shift_back(spot, event.now)
    signals = signals_from(spot, event)
    if isinstance(signals, str):
        logger.info("not a spot failure", extra={"reason": signals})
        return {"outcome": "ignored", "reason": signals}
    return {"outcome": "ok", "services": [fall_back(spot, signal) for signal in signals]}


# ------------------------------------------------------------------------------------------ observe: the signals


def signals_from(spot: Spot, event: BaseModel) -> list[Signal] | str:
    """The services a Spot failure hit, or why the event is not one."""
    if isinstance(event, TaskStateChange):
        return task_signal(event)
    if isinstance(event, ServiceAction):
        return placement_signal(event)
    if isinstance(event, SpotInterruptionWarning):
        return ec2_signals(spot, event)
    return f"{type(event).__name__} is not a Spot signal"


def task_signal(event: TaskStateChange) -> list[Signal] | str:
    detail = event.detail
    if not is_fargate_spot_interruption(detail.capacity_provider_name, detail.stop_code, detail.stopped_reason):
        provider = detail.capacity_provider_name or "no provider"
        return f"task stop on {provider} ({detail.stop_code or detail.stopped_reason})"
    if detail.service_name is None:
        return "a standalone task, not a service's"
    task = detail.task_arn.rsplit("/", 1)[-1]
    cause = f"Fargate Spot interruption (task {task[:8]}, {detail.stop_code or 'interrupted'})"
    return [Signal(cluster_name(detail.cluster_arn), detail.service_name, cause, event.time)]


def placement_signal(event: ServiceAction) -> list[Signal] | str:
    action = event.detail
    if action.event_name != "SERVICE_TASK_PLACEMENT_FAILURE":
        return f"service action {action.event_name}"
    if not is_spot_placement_failure(action.reason, action.capacity_provider_arns):
        return f"placement failure {action.reason} without a Spot provider"
    try:
        service = event.service_arn.rsplit("/", 1)[-1]
    except ValueError as error:
        return str(error)
    cause = f"Spot placement failure ({action.reason})"
    return [Signal(cluster_name(action.cluster_arn), service, cause, event.time)]


def ec2_signals(spot: Spot, event: SpotInterruptionWarning) -> list[Signal] | str:
    """An EC2 Spot instance about to go: drain it, and fall back every service with tasks on it."""
    instance_id = event.detail.instance_id
    instance = spot.ecs.container_instance_of(instance_id)
    if instance is None:
        return f"instance {instance_id} is not an ECS container instance in any cluster"
    if not instance.capacity_provider:
        return f"instance {instance_id} belongs to no capacity provider"
    if not spot.ecs.cluster_in_scope(spot.scope, cluster_name(instance.cluster_arn)):
        # Draining acts on the cluster: only the stack whose scope names the cluster (by its own tag) drains it.
        return out_of_scope(f"instance {instance_id} (cluster {cluster_name(instance.cluster_arn)})", spot.scope)
    drained = apply(
        Change(instance, make=lambda: spot.ecs.drain(instance.cluster_arn, instance.arn)), dry_run=spot.dry_run
    )
    if drained.cause is not None:
        raise drained.cause  # refused for good: raised like any error before a fallback, so Lambda retries the event
    cause = f"EC2 Spot interruption warning for {instance_id} ({instance.capacity_provider})"
    services = spot.ecs.services_on(instance.cluster_arn, instance.arn)
    if not services:
        return f"instance {instance_id} drained; no service tasks on it"
    providers = frozenset({instance.capacity_provider})
    return [Signal(cluster_name(instance.cluster_arn), name, cause, event.time, providers) for name in services]


# ------------------------------------------------------------------------------------------ fallback


def fall_back(spot: Spot, signal: Signal) -> dict[str, Any]:
    """Observe (the episode, claimed by noting the signal; then the service, which must be in scope) → decide →
    plan → apply → report."""
    claim = spot.episodes.note_signal(signal.cluster, signal.service, signal.at)
    seen = judge_signal(claim.stored, signal.at)
    if not seen.go_on:
        return _result(signal.label, seen.outcome, seen.reason)
    with claim.released_on_error():
        service = spot.ecs.spot_service(signal.cluster, signal.service)
        if service is not None and not spot.ecs.in_scope(spot.scope, service.cluster, service.tags):
            claim.release()  # nothing of another stack's service stays in this stack's table
            return _result(signal.label, "ignored", out_of_scope(signal.label, spot.scope))
        decision = decide_fallback(signal, service)
        if decision.verdict.act:
            decision = confirm_fallback(decision, spot.ecs.cluster_providers(signal.cluster))
    applied = apply(plan_fallback(spot, decision, claim), dry_run=spot.dry_run, raise_transient=False)
    if applied.status is Status.FAILED:
        return fallback_failed(spot, applied)
    if decision.verdict.act:
        return fallback_done(spot, applied)
    return refusal_done(spot, applied)


def out_of_scope(what: str, scope: Scope) -> str:
    """Another stack's service or cluster (or none's): left alone without a word in Slack."""
    reason = f"{what} is not in this stack's scope ({scope.label})"
    logger.debug("out of scope", extra={"service": what, "reason": reason})
    metrics.add_metric(name="OutOfScope", unit=MetricUnit.Count, value=1)
    return reason


def plan_fallback(spot: Spot, decision: FallbackDecision, claim: EpisodeClaim) -> Change[FallbackDecision]:
    """A fallback writes the episode ahead, then changes the strategy; a refusal is remembered for a while."""
    signal, verdict = decision.signal, decision.verdict

    def fall_back_now() -> None:
        claim.start(decision.episode)
        spot.ecs.set_strategy(signal.cluster, signal.service, verdict.fallback)

    reported = spot.episodes.report_once(signal.cluster, signal.service, signal.at, spot.stable)
    if verdict.act:
        return Change(decision, make=fall_back_now, claim=claim, dry_run_claim=reported)
    remember = partial(claim.remember_refusal, verdict.reason, until=signal.at + REMEMBER_REFUSAL)
    return Change(decision, make=remember, claim=claim, dry_run_claim=reported)


def fallback_done(spot: Spot, applied: Applied[FallbackDecision]) -> dict[str, Any]:
    decision = applied.decision
    signal, service, to = decision.signal, decision.service, decision.verdict.fallback
    if applied.status is Status.DUPLICATE:
        return _result(signal.label, "duplicate", "another invocation took over this episode")
    if applied.status is Status.REPORTED:
        return _result(signal.label, "reported", DROUGHT_REPORTED)
    if applied.status is Status.DONE:
        metrics.add_metric(name="SpotFallbacks", unit=MetricUnit.Count, value=1)
        logger.info(
            "spot fallback", extra={"service": signal.label, "cause": signal.cause, "to": describe_strategy(to)}
        )
    if service is not None:  # always: a fallback is decided only for a service ECS described
        spot.slack.post(report.fallback(service, signal.cause, to, dry=applied.status is Status.DRY_RUN))
    outcome = "would fall back" if applied.status is Status.DRY_RUN else "fell back"
    return _result(signal.label, outcome, decision.strategy_change)


def refusal_done(spot: Spot, applied: Applied[FallbackDecision]) -> dict[str, Any]:
    """Left alone, remembered for REMEMBER_REFUSAL, and said to the service's team when they can fix it."""
    decision = applied.decision
    signal, service, reason = decision.signal, decision.service, decision.verdict.reason
    if applied.status is Status.DUPLICATE:
        return _result(signal.label, "duplicate", "another invocation took over this episode")
    if applied.status is Status.REPORTED:
        return _result(signal.label, "reported", DROUGHT_REPORTED)
    logger.info("spot fallback declined", extra={"service": signal.label, "reason": reason, "cause": signal.cause})
    metrics.add_metric(name="SpotFallbacksDeclined", unit=MetricUnit.Count, value=1)
    if invalid := decision.verdict.invalid:
        logger.warning("invalid tag", extra={"service": signal.label, "reason": invalid.sentence()})
        metrics.add_metric(name="InvalidTags", unit=MetricUnit.Count, value=1)
    if service is not None and decision.verdict.notify:
        spot.slack.post(report.refusal(service, signal.cause, reason, dry=applied.status is Status.DRY_RUN))
    return _result(signal.label, "left alone", reason)


def fallback_failed(spot: Spot, applied: Applied[FallbackDecision]) -> dict[str, Any]:
    """The claim is released: a transient error goes back to Lambda, a lasting one is said once, here."""
    error, signal, service = applied.cause, applied.decision.signal, applied.decision.service
    if not isinstance(error, ClientError | BotoCoreError):
        raise error or RuntimeError(applied.error)  # the state table failing is raised, as everywhere
    metrics.add_metric(name="SpotFallbackFailures", unit=MetricUnit.Count, value=1)
    if is_transient(error):
        raise error  # retries ran out: Lambda retries the event, then the dead-letter queue keeps it
    logger.error("spot fallback failed", extra={"service": signal.label, "error": str(error)})
    if service is not None:
        spot.slack.post(report.failure(service, signal.cause, str(error)))
    return _result(signal.label, "failed", str(error))


# ------------------------------------------------------------------------------------------ shift back


def shift_back(spot: Spot, now: datetime) -> dict[str, Any]:
    """Every episode quiet for the stable period goes back to its original strategy; one service's failure is that
    service's alone: the others still go back in the same tick."""
    results, deferred = [], []
    step = ShiftBack(spot.ecs, spot.episodes, spot.slack, spot.dry_run, spot.stable)
    for open_episode in spot.episodes.open_episodes():
        result, error = shift_back_one(step, open_episode, now)
        results.append(result)
        if error is not None:
            deferred.append(error)
    if deferred:
        raise deferred[0]  # the others are done; retries run out into the dead-letter queue, the episode waits
    return {"outcome": "dry-run" if spot.dry_run else "ok", "services": results}
