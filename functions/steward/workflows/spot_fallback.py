"""Spot fallback: one episode per service per Spot drought, one strategy change into it and one out of it.

First signal for a service, before UpdateService: one atomic write that records the signal and claims the episode,
one DescribeServices, one DescribeClusters (the on-demand provider must be associated with the cluster), one
write-ahead of the original and fallback strategies. A duplicate signal costs one write that finds the episode
already claimed (and pushes back the shift-back clock, never forward: a late signal leaves it where it is).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from steward.adapters import ecs as ecs_actions
from steward.adapters import slack as slack_actions
from steward.adapters import state as state_actions
from steward.adapters.aws import is_transient
from steward.adapters.ecs import SpotEcs, cluster_name
from steward.adapters.state import service_key
from steward.domain import slack as blocks
from steward.domain.services import CHANNEL_TAG
from steward.domain.spot import (
    FARGATE_SPOT,
    Episode,
    SpotService,
    Strategy,
    StrategyItem,
    describe_strategy,
    is_fargate_spot_interruption,
    is_spot_placement_failure,
    judge_fallback,
    judge_shift_back,
    on_demand_for,
    unassociated_refusal,
)
from steward.models.ec2 import SpotInterruptionWarning
from steward.models.ecs import ServiceAction, TaskStateChange
from steward.models.schedules import SpotShiftBackTick
from steward.observability import logger, metrics
from steward.runtime import Runtime
from steward.settings import SpotFallbackSettings

RECORD = "spot-fallback"
STALE_CLAIM = timedelta(minutes=2)  # a claim this old without a fallback belongs to a crashed invocation
REMEMBER_REFUSAL = timedelta(minutes=10)  # repeated signals for a service we leave alone cost one write

IAM_ACTIONS = (
    ecs_actions.SPOT_ACTIONS
    | slack_actions.IAM_ACTIONS
    | {state_actions.READ, state_actions.UPDATE, state_actions.DELETE, state_actions.QUERY}
)


@dataclass(frozen=True)
class Signal:
    cluster: str
    service: str
    cause: str
    at: datetime
    spot_providers: frozenset[str] = frozenset({FARGATE_SPOT})


def handle(rt: Runtime[SpotFallbackSettings], event: BaseModel) -> dict[str, Any]:
    if isinstance(event, SpotShiftBackTick):
        return shift_back(rt, event.now)
    signals = signals_from(rt, event)
    if isinstance(signals, str):
        logger.info("not a spot failure", extra={"reason": signals})
        return {"outcome": "ignored", "reason": signals}
    results = [fall_back(rt, signal) for signal in signals]
    return {"outcome": "ok", "services": results}


def signals_from(rt: Runtime[SpotFallbackSettings], event: BaseModel) -> list[Signal] | str:
    """The services a Spot failure hit, or why the event is not one."""
    if isinstance(event, TaskStateChange):
        detail = event.detail
        if not is_fargate_spot_interruption(detail.capacity_provider_name, detail.stop_code, detail.stopped_reason):
            provider = detail.capacity_provider_name or "no provider"
            return f"task stop on {provider} ({detail.stop_code or detail.stopped_reason})"
        if detail.service_name is None:
            return "a standalone task, not a service's"
        task = detail.task_arn.rsplit("/", 1)[-1]
        cause = f"Fargate Spot interruption (task {task[:8]}, {detail.stop_code or 'interrupted'})"
        return [Signal(cluster_name(detail.cluster_arn), detail.service_name, cause, event.time)]
    if isinstance(event, ServiceAction):
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
    if isinstance(event, SpotInterruptionWarning):
        return ec2_signals(rt, event)
    return f"{type(event).__name__} is not a Spot signal"


def ec2_signals(rt: Runtime[SpotFallbackSettings], event: SpotInterruptionWarning) -> list[Signal] | str:
    """An EC2 Spot instance about to go: drain it, and fall back every service with tasks on it."""
    ecs = SpotEcs(rt.aws)
    instance_id = event.detail.instance_id
    found = ecs.container_instance_of(instance_id)
    if found is None:
        return f"instance {instance_id} is not an ECS container instance in any cluster"
    cluster, instance = found
    provider = instance.get("capacityProviderName", "")
    if not provider:
        return f"instance {instance_id} belongs to no capacity provider"
    if not rt.settings.dry_run:
        ecs.drain(cluster, instance["containerInstanceArn"])
    cause = f"EC2 Spot interruption warning for {instance_id} ({provider})"
    services = ecs.services_on(cluster, instance["containerInstanceArn"])
    if not services:
        return f"instance {instance_id} drained; no service tasks on it"
    return [Signal(cluster_name(cluster), name, cause, event.time, frozenset({provider})) for name in services]


# ------------------------------------------------------------------------------------------ fallback


def fall_back(rt: Runtime[SpotFallbackSettings], signal: Signal) -> dict[str, Any]:
    key = service_key(signal.cluster, signal.service, RECORD)
    label = f"{signal.cluster}/{signal.service}"
    claim = uuid.uuid4().hex
    at = _instant(signal.at)
    record: dict[str, Any] | None
    if rt.settings.dry_run:
        record = rt.state.get(key) or {"claim_id": claim}
    else:
        # DynamoDB has no max(): the signal time is written only over an older one, and a refused write still
        # answers with the item, so a late or redelivered signal costs the same one request as any duplicate.
        record = rt.state.update(
            key,
            {"last_signal_at": at},
            if_absent={"claim_id": claim, "claimed_at": at},
            condition="attribute_not_exists(last_signal_at) OR last_signal_at <= :signal_at",
            condition_values={":signal_at": at},
            current_if_refused=True,
        )
    if not record:
        raise RuntimeError(f"update of {label} returned nothing")
    if record.get("status") == "fallback":
        return _result(label, "duplicate", f"already on on-demand since {record.get('fell_back_at')}")
    if (
        record.get("status") == "ignored"
        and datetime.fromisoformat(record["claimed_at"]) + REMEMBER_REFUSAL > signal.at
    ):
        return _result(label, "left alone", str(record.get("reason", "")))
    if record.get("claim_id") != claim:
        if not _stale(record, signal.at):
            return _result(label, "duplicate", "another invocation is handling this episode")
        # The claimant crashed before falling back: take the episode over, unless another signal just did.
        if not rt.settings.dry_run and not _take_over(rt, key, record, claim, at):
            return _result(label, "duplicate", "another invocation took over this episode")

    ecs = SpotEcs(rt.aws)
    try:
        service = ecs.spot_service(signal.cluster, signal.service)
        if service is None:
            return _refuse(rt, key, signal, claim, "service not found")
        spot = set(signal.spot_providers)
        verdict = judge_fallback(service, spot, on_demand_for(service, spot))
        if verdict.act:
            verdict = unassociated_refusal(service, verdict.fallback, ecs.cluster_providers(signal.cluster)) or verdict
    except (ClientError, BotoCoreError):
        if not rt.settings.dry_run:
            rt.state.delete(key)  # no claim left behind: Lambda's retry of this event must be free to act
        raise
    if not verdict.act:
        return _refuse(rt, key, signal, claim, verdict.reason, tell=service if verdict.notify else None)

    if rt.settings.dry_run:
        report_fallback(rt, service, signal, verdict.fallback, dry=True)
        return _result(
            label, "would fall back", f"{describe_strategy(service.strategy)} → {describe_strategy(verdict.fallback)}"
        )

    rt.state.update(
        key,
        {
            "status": "fallback",
            "claim_id": claim,
            "claimed_at": at,
            "original": [item.as_api() for item in service.strategy],
            "fallback": [item.as_api() for item in verdict.fallback],
            "fell_back_at": at,
            "cause": signal.cause,
        },
    )
    try:
        ecs.set_strategy(signal.cluster, signal.service, verdict.fallback)
    except (ClientError, BotoCoreError) as error:
        rt.state.delete(key)  # the episode did not start: a later signal must be free to try again
        metrics.add_metric(name="SpotFallbackFailures", unit=MetricUnit.Count, value=1)
        if is_transient(error):
            raise  # retries ran out: Lambda retries the event, then the dead-letter queue keeps it
        logger.error("spot fallback failed", extra={"service": label, "error": str(error)})
        report_failure(rt, service, signal, str(error))
        return _result(label, "failed", str(error))
    metrics.add_metric(name="SpotFallbacks", unit=MetricUnit.Count, value=1)
    logger.info(
        "spot fallback", extra={"service": label, "cause": signal.cause, "to": describe_strategy(verdict.fallback)}
    )
    report_fallback(rt, service, signal, verdict.fallback, dry=False)
    return _result(label, "fell back", f"{describe_strategy(service.strategy)} → {describe_strategy(verdict.fallback)}")


def _take_over(rt: Runtime[SpotFallbackSettings], key: Any, record: dict[str, Any], claim: str, at: str) -> bool:
    taken = rt.state.update(
        key,
        {"claim_id": claim, "claimed_at": at},
        condition="claim_id = :crashed AND attribute_not_exists(fell_back_at)",
        condition_values={":crashed": record["claim_id"]},
    )
    return taken is not None


def _stale(record: dict[str, Any], now: datetime) -> bool:
    claimed_at = record.get("claimed_at")
    return bool(claimed_at) and now - datetime.fromisoformat(str(claimed_at)) > STALE_CLAIM


def _refuse(
    rt: Runtime[SpotFallbackSettings],
    key: Any,
    signal: Signal,
    claim: str,
    reason: str,
    *,
    tell: SpotService | None = None,
) -> dict[str, Any]:
    """Leave the service alone, remember why for REMEMBER_REFUSAL, and tell its team when they can fix it."""
    label = f"{signal.cluster}/{signal.service}"
    logger.info("spot fallback declined", extra={"service": label, "reason": reason, "cause": signal.cause})
    metrics.add_metric(name="SpotFallbacksDeclined", unit=MetricUnit.Count, value=1)
    if not rt.settings.dry_run:
        rt.state.update(
            key,
            {"status": "ignored", "reason": reason, "claim_id": claim, "claimed_at": _instant(signal.at)},
            expires=signal.at + REMEMBER_REFUSAL,
        )
    if tell is not None:
        report_refusal(rt, tell, signal, reason, dry=rt.settings.dry_run)
    return _result(label, "left alone", reason)


def _instant(moment: datetime) -> str:
    """ISO 8601 in UTC: stored instants compare as strings in time order (the claim's condition relies on it)."""
    return moment.astimezone(UTC).isoformat()


def _result(service: str, outcome: str, reason: str) -> dict[str, Any]:
    return {"service": service, "outcome": outcome, "reason": reason}


# ------------------------------------------------------------------------------------------ shift back


def episode_from(item: dict[str, Any]) -> Episode:
    return Episode(
        original=tuple(StrategyItem.from_api(raw) for raw in item["original"]),
        fallback=tuple(StrategyItem.from_api(raw) for raw in item["fallback"]),
        fell_back_at=datetime.fromisoformat(item["fell_back_at"]),
        last_signal_at=datetime.fromisoformat(item["last_signal_at"]),
        cause=str(item.get("cause", "")),
    )


def shift_back(rt: Runtime[SpotFallbackSettings], now: datetime) -> dict[str, Any]:
    """Every episode quiet for the stable period goes back to its original strategy; one service's failure is that
    service's alone: the others still go back in the same tick."""
    stable = timedelta(minutes=rt.settings.stable_minutes)
    ecs = SpotEcs(rt.aws)
    results = []
    deferred: list[ClientError | BotoCoreError] = []
    for item in rt.state.records(RECORD):
        if item.get("status") != "fallback":
            continue
        cluster, _, name = item["pk"].removeprefix("service#").partition("/")
        label = f"{cluster}/{name}"
        episode = episode_from(item)
        if now - episode.last_signal_at < stable:
            results.append(_result(label, "waiting", judge_shift_back(episode, episode.fallback, now, stable).reason))
            continue
        service: SpotService | None = None
        try:
            service = ecs.spot_service(cluster, name)
            results.append(
                _shift_back_one(rt, ecs, cluster, name, service=service, episode=episode, now=now, stable=stable)
            )
        except (ClientError, BotoCoreError) as error:
            metrics.add_metric(name="SpotShiftBackFailures", unit=MetricUnit.Count, value=1)
            if is_transient(error):
                # The episode stays as it is, so the next tick (or Lambda's retry of this one) tries again.
                logger.warning("spot shift back deferred", extra={"service": label, "error": str(error)})
                deferred.append(error)
                results.append(_result(label, "deferred", str(error)))
                continue
            logger.error("spot shift back failed", extra={"service": label, "error": str(error)})
            if not rt.settings.dry_run:
                rt.state.delete(service_key(cluster, name, RECORD))  # closed: reported once, not every tick
            report_shift_back_failure(rt, cluster, name, service=service, episode=episode, error=str(error))
            results.append(_result(label, "failed", str(error)))
    if deferred:
        raise deferred[0]  # the others are done; retries run out into the dead-letter queue, the episode waits
    return {"outcome": "dry-run" if rt.settings.dry_run else "ok", "services": results}


def _shift_back_one(
    rt: Runtime[SpotFallbackSettings],
    ecs: SpotEcs,
    cluster: str,
    name: str,
    *,
    service: SpotService | None,
    episode: Episode,
    now: datetime,
    stable: timedelta,
) -> dict[str, Any]:
    label = f"{cluster}/{name}"
    key = service_key(cluster, name, RECORD)
    if service is None:
        if not rt.settings.dry_run:
            rt.state.delete(key)
        return _result(label, "forgotten", "service no longer exists")
    verdict = judge_shift_back(episode, service.strategy, now, stable)
    if not verdict.act:
        if not rt.settings.dry_run:
            rt.state.delete(key)
        return _result(label, "forgotten", verdict.reason)
    if not rt.settings.dry_run:
        ecs.set_strategy(cluster, name, episode.original)
        rt.state.delete(key)
        metrics.add_metric(name="SpotShiftBacks", unit=MetricUnit.Count, value=1)
    report_shift_back(rt, service, episode, now, dry=rt.settings.dry_run)
    return _result(label, "shifted back", f"{verdict.reason}; back to {describe_strategy(episode.original)}")


# ------------------------------------------------------------------------------------------ Slack


def _post(
    rt: Runtime[SpotFallbackSettings], service: SpotService | None, title: str, text: str, *body: blocks.Block
) -> None:
    """One Spot message: to the default channel and, where the service names one, its team's channel."""
    channel = service.tags.get(CHANNEL_TAG) if service else None
    rt.slack.post(blocks.SlackMessage(text=text, channel=channel, blocks=(blocks.header(title), *body)))


def _was_now(service: SpotService, lead: str, was: Strategy, now: Strategy) -> blocks.Block:
    name = f"*{blocks.escape(service.cluster)}/{blocks.escape(service.name)}*"
    return blocks.section(
        f"{name} {lead}", fields=[f"*Was*\n{describe_strategy(was)}", f"*Now*\n{describe_strategy(now)}"]
    )


def report_fallback(
    rt: Runtime[SpotFallbackSettings], service: SpotService, signal: Signal, to: Strategy, dry: bool
) -> None:
    title = f"{'[dry run] ' if dry else ''}Spot fallback: {service.name} moved to on-demand"
    _post(
        rt,
        service,
        title,
        f"{title} ({signal.cause})",
        _was_now(service, f"— {blocks.escape(signal.cause)}", service.strategy, to),
        blocks.context("Steward shifts it back once Spot has been quiet for the stable period."),
    )


def report_failure(rt: Runtime[SpotFallbackSettings], service: SpotService, signal: Signal, error: str) -> None:
    title = f"Spot fallback failed: {service.name} is still on Spot"
    _post(
        rt,
        service,
        title,
        f"{title}: {error}",
        blocks.section(f"{blocks.escape(signal.cause)}\n`{blocks.escape(error[:500])}`"),
        blocks.context("Steward tries again on the next Spot signal for this service."),
    )


def report_shift_back(
    rt: Runtime[SpotFallbackSettings], service: SpotService, episode: Episode, now: datetime, dry: bool
) -> None:
    minutes = int((now - episode.fell_back_at).total_seconds() // 60)
    duration = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
    title = f"{'[dry run] ' if dry else ''}Spot fallback over: {service.name} back on Spot"
    lead = f"ran on on-demand for {duration} after {blocks.escape(episode.cause)}."
    _post(
        rt,
        service,
        title,
        f"{title} after {duration} on on-demand",
        _was_now(service, lead, episode.fallback, episode.original),
    )


def report_refusal(
    rt: Runtime[SpotFallbackSettings], service: SpotService, signal: Signal, reason: str, dry: bool
) -> None:
    title = f"{'[dry run] ' if dry else ''}Spot fallback not possible: {service.name} stays on Spot"
    name = f"*{blocks.escape(service.cluster)}/{blocks.escape(service.name)}*"
    _post(
        rt,
        service,
        title,
        f"{title}: {reason}",
        blocks.section(f"{name} — {blocks.escape(signal.cause)}\n{blocks.escape(reason)}"),
        blocks.context(
            f"Said once; Steward looks again on a Spot signal after {int(REMEMBER_REFUSAL.total_seconds() // 60)} min."
        ),
    )


def report_shift_back_failure(
    rt: Runtime[SpotFallbackSettings],
    cluster: str,
    name: str,
    *,
    service: SpotService | None,
    episode: Episode,
    error: str,
) -> None:
    title = f"Spot shift back failed: {name} stays on on-demand"
    strategy = " ".join(
        f"capacityProvider={item.provider},weight={item.weight},base={item.base}" for item in episode.original
    )
    command = (
        f"aws ecs update-service --cluster {cluster} --service {name} "
        f"--capacity-provider-strategy {strategy} --force-new-deployment"
    )
    _post(
        rt,
        service,
        title,
        f"{title}: {error}",
        blocks.section(
            f"*{blocks.escape(cluster)}/{blocks.escape(name)}* could not go back to "
            f"*{describe_strategy(episode.original)}*\n`{blocks.escape(error[:500])}`"
        ),
        blocks.section(
            "Steward has closed this episode and will not try again. To go back to Spot, set the strategy with a "
            f"new deployment:\n```{blocks.escape(command)}```"
        ),
        blocks.context("If steward:spot-fallback was removed from the service, it is no longer Steward's to change."),
    )
