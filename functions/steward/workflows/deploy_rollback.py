"""Deploy rollback: keep each service's deployment history from ECS events, and when a mapped alarm goes to ALARM
shortly after a deployment, roll the service back to its last good task definition — once.

An alarm: observe (the service as ECS describes it, its history and rollback marker) → decide (domain.rollback) →
plan (the change and the alarm episode's claim) → apply → report (reports.deploy_rollback)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from msgspec import Struct
from pydantic import BaseModel

from steward.adapters import rollback_ecs, rollback_records
from steward.adapters import slack as slack_actions
from steward.adapters.rollback_ecs import RollbackEcs
from steward.adapters.rollback_records import HISTORY_LIFETIME, RecordedDeployment, RollbackRecords, StoredMarker
from steward.apply import Applied, Change, Status, apply
from steward.domain.rollback import (
    Move,
    RollbackContext,
    RollbackDecision,
    RollbackService,
    decide_rollback,
    is_scaling_alarm,
    newer,
    observed_deployment,
    resolved_deployment,
    revision,
)
from steward.domain.scope import Scope
from steward.domain.services import InvalidTag
from steward.models.cloudwatch import AlarmStateChange
from steward.models.ecs_deployments import DeploymentStateChange
from steward.observability import logger, metrics
from steward.reports import deploy_rollback as reports
from steward.runtime import Runtime
from steward.settings.deploy_rollback import DeployRollbackSettings

IAM_ACTIONS = rollback_ecs.ROLLBACK_ACTIONS | slack_actions.IAM_ACTIONS | rollback_records.IAM_ACTIONS
FINISHED_MEANWHILE = "the deployment finished meanwhile"


def handle(rt: Runtime[DeployRollbackSettings], event: BaseModel) -> dict[str, Any]:
    if isinstance(event, DeploymentStateChange):
        return record_deployment(rt, event)
    if isinstance(event, AlarmStateChange):
        return on_alarm(rt, event)
    return {"outcome": "ignored", "reason": f"{type(event).__name__} is not handled here"}


def adapters(rt: Runtime[DeployRollbackSettings]) -> tuple[RollbackEcs, RollbackRecords]:
    return RollbackEcs(rt.aws), RollbackRecords(rt.state)


# ------------------------------------------------------------------------------------------ history


def record_deployment(rt: Runtime[DeployRollbackSettings], event: DeploymentStateChange) -> dict[str, Any]:
    (cluster, name), detail = event.cluster_and_service, event.detail
    ecs, records = adapters(rt)
    stored = records.deployment(cluster, name, detail.deployment_id)
    before = stored.deployment if stored else None
    incoming = observed_deployment(detail.deployment_id, detail.status, detail.updated_at, detail.reason, before)
    if not newer(incoming, before):
        return {
            "outcome": "duplicate",
            "deployment": detail.deployment_id,
            "reason": "an equal or later state is recorded",
        }
    service = ecs.rollback_service(cluster, name)
    if service is None:
        return {"outcome": "ignored", "deployment": detail.deployment_id, "reason": "service not found"}
    if not ecs.in_scope(rt.settings.scope, cluster, service.tags):
        return out_of_scope(f"{cluster}/{name}", rt.settings.scope)
    incoming = resolved_deployment(incoming, service, records.marker(cluster, name).marker)
    thread = stored.thread_ts if stored else None
    written = records.record(cluster, name, incoming, thread_ts=thread, expires=event.time + HISTORY_LIFETIME)
    if written is None:
        return {
            "outcome": "duplicate",
            "deployment": detail.deployment_id,
            "reason": "a later state was recorded meanwhile",
        }
    metrics.add_metric(name="DeploymentsRecorded", unit=MetricUnit.Count, value=1)
    if rt.settings.deploy_notifications:
        notify(rt, records, (cluster, name), written, service.channel if service else None)
    return {
        "outcome": "recorded",
        "deployment": incoming.deployment_id,
        "status": incoming.status,
        "task_definition": revision(incoming.task_definition),
    }


def notify(
    rt: Runtime[DeployRollbackSettings],
    records: RollbackRecords,
    service: tuple[str, str],
    written: RecordedDeployment,
    channel: str | None,
) -> None:
    """The deployment's status in Slack: its first message starts the deployment's thread, the later ones reply."""
    (cluster, name), deployment = service, written.deployment
    ts = rt.slack.post(reports.deployment(cluster, name, deployment, channel), thread_ts=written.thread_ts)
    started = ts if ts and not written.thread_ts else None
    remember = (lambda: records.remember_thread(cluster, name, deployment.deployment_id, started)) if started else None
    threaded = apply(Change(deployment, make=remember), dry_run=rt.settings.dry_run)
    if threaded.status is Status.FAILED and threaded.cause is not None:
        raise threaded.cause  # the state table failing fails the event, as every other write here does


# ------------------------------------------------------------------------------------------ alarms


class Alarmed(Struct, frozen=True):
    """A service an alarm went off for, as observed: what the decision needs and what the plan must put back."""

    cluster: str
    name: str
    service: RollbackService
    context: RollbackContext
    marker: StoredMarker

    @property
    def label(self) -> str:
        return f"{self.cluster}/{self.name}"


def on_alarm(rt: Runtime[DeployRollbackSettings], event: AlarmStateChange) -> dict[str, Any]:
    passed_over = pass_over(rt, event)
    if passed_over is not None:
        return passed_over
    ecs, records = adapters(rt)
    mapped = map_alarm(ecs, event)
    if mapped is None:
        return {"outcome": "ignored", "reason": f"alarm {event.detail.alarm_name} maps to no service"}
    service = ecs.rollback_service(*mapped)
    if service is None:
        return {"outcome": "ignored", "service": "/".join(mapped), "reason": "service not found"}
    if not ecs.in_scope(rt.settings.scope, mapped[0], service.tags):
        return out_of_scope("/".join(mapped), rt.settings.scope)
    alarmed = observe(rt, records, event, mapped, service)
    decision = decide(ecs, alarmed.context)
    # Claimed only after every read: a read that fails leaves no claim behind to turn Lambda's retry into a no-op.
    applied = apply(plan(ecs, records, event, alarmed, decision), dry_run=rt.settings.dry_run)
    return conclude(rt, event, alarmed, applied)


def out_of_scope(service: str, scope: Scope) -> dict[str, Any]:
    """Another stack's service (or none's): no record, no rollback, no word in Slack."""
    reason = f"not in this stack's scope ({scope.label})"
    logger.debug("out of scope", extra={"service": service, "reason": reason})
    metrics.add_metric(name="OutOfScope", unit=MetricUnit.Count, value=1)
    return {"outcome": "ignored", "service": service, "reason": reason}


def pass_over(rt: Runtime[DeployRollbackSettings], event: AlarmStateChange) -> dict[str, Any] | None:
    """Answers for alarm changes that concern no service: not into ALARM, Steward's own health, or scaling."""
    detail = event.detail
    if not detail.went_into_alarm:
        reason = f"alarm went {detail.previous_value} → {detail.state.value}, not into ALARM"
        return {"outcome": "ignored", "reason": reason}
    prefix = rt.settings.health_alarm_prefix
    if prefix and detail.alarm_name.startswith(prefix):
        return report_health(rt, event)
    if is_scaling_alarm(detail.alarm_name, detail.configuration.description):
        # Scaling alarms go to ALARM whenever load moves: expected, so neither a rollback nor news.
        reason = "an Auto Scaling target tracking alarm; scaling alarms never trigger a rollback"
        logger.info("scaling alarm ignored", extra={"alarm": detail.alarm_name, "reason": reason})
        metrics.add_metric(name="ScalingAlarmsIgnored", unit=MetricUnit.Count, value=1)
        return {"outcome": "ignored", "alarm": detail.alarm_name, "reason": reason}
    return None


def map_alarm(ecs: RollbackEcs, event: AlarmStateChange) -> tuple[str, str] | None:
    """The alarm's metric's ClusterName + ServiceName dimensions, or its steward:service tag."""
    dimensions = event.dimensions
    if dimensions.get("ClusterName") and dimensions.get("ServiceName"):
        return dimensions["ClusterName"], dimensions["ServiceName"]
    cluster, _, name = ecs.alarm_service_tag(event.alarm_arn).partition("/")
    return (cluster, name) if cluster and name else None


def observe(
    rt: Runtime[DeployRollbackSettings],
    records: RollbackRecords,
    event: AlarmStateChange,
    mapped: tuple[str, str],
    service: RollbackService,
) -> Alarmed:
    (cluster, name), detail = mapped, event.detail
    history = records.history(cluster, name)
    held_off = records.held_off(cluster, name)
    if isinstance(invalid := service.rollback_tag, InvalidTag):
        logger.warning("invalid tag", extra={"service": f"{cluster}/{name}", "reason": invalid.sentence()})
        metrics.add_metric(name="InvalidTags", unit=MetricUnit.Count, value=1)
    stored = records.marker(cluster, name)
    context = RollbackContext(
        service=f"{cluster}/{name}",
        opted_out=service.opted_out,
        opted_out_because=service.opted_out_because,
        held_off=held_off,
        history=history,
        current_task_definition=service.task_definition,
        alarm_time=detail.state.timestamp,
        window=timedelta(minutes=rt.settings.window_minutes),
        cooldown=timedelta(minutes=rt.settings.cooldown_minutes),
        last_steward_rollback=stored.marker.at if stored.marker else None,
        native_alarm_rollback=detail.alarm_name in service.ecs_rollback_alarms,
        alarm=detail.alarm_name,
    )
    return Alarmed(cluster, name, service, context, stored)


def decide(ecs: RollbackEcs, context: RollbackContext) -> RollbackDecision:
    """The decision, with the target task definition looked up once there is one: never an INACTIVE one."""
    decision = decide_rollback(context)
    if decision.move is Move.UPDATE_SERVICE:
        active = ecs.task_definition_status(decision.target_task_definition) == "ACTIVE"
        decision = decide_rollback(context, target_is_active=active)
    return decision


def plan(
    ecs: RollbackEcs,
    records: RollbackRecords,
    event: AlarmStateChange,
    alarmed: Alarmed,
    decision: RollbackDecision,
) -> Change[RollbackDecision]:
    """Every answer claims the alarm episode, a refusal too: the same alarm again is a duplicate, not a second post."""
    claim = records.episode_claim(
        event.alarm_arn,
        event.detail.state.timestamp,
        alarmed.label,
        now=event.time,
        marker=decision.marker,  # only a task definition rollback carries one
        previous=alarmed.marker,
    )
    cluster, name = alarmed.cluster, alarmed.name
    if decision.move is Move.STOP_DEPLOYMENT:
        # None: the deployment finished before it could be stopped, nothing left to change.
        return Change(decision, make=lambda: ecs.stop_deployment_with_rollback(cluster, name) is not None, claim=claim)
    if decision.move is Move.UPDATE_SERVICE:
        target = decision.target_task_definition
        return Change(decision, make=lambda: ecs.deploy_task_definition(cluster, name, target), claim=claim)
    return Change(decision, make=lambda: False, claim=claim)


def conclude(
    rt: Runtime[DeployRollbackSettings], event: AlarmStateChange, alarmed: Alarmed, applied: Applied[RollbackDecision]
) -> dict[str, Any]:
    """Log, count and report what the alarm led to, and answer the handler's result."""
    service, alarm, decision = alarmed.label, event.detail.alarm_name, applied.decision
    if applied.status is not Status.DUPLICATE and decision.move is Move.NONE:
        logger.info("no rollback", extra={"service": service, "alarm": alarm, "reason": decision.reason})
        metrics.add_metric(name="RollbacksDeclined", unit=MetricUnit.Count, value=1)
    elif applied.status is Status.FAILED:
        logger.error("rollback failed", extra={"service": service, "error": applied.error})
    elif applied.status is Status.DONE:
        metrics.add_metric(name="Rollbacks", unit=MetricUnit.Count, value=1)
        logger.info("rolled back", extra={"service": service, "alarm": alarm, "reason": decision.reason})
    channel = alarmed.service.channel
    message = reports.rollback(applied, service=service, alarm=alarm, channel=channel, region=event.region)
    if message is not None:
        rt.slack.post(message)
    return outcome(applied, service)


def outcome(applied: Applied[RollbackDecision], service: str) -> dict[str, Any]:
    decision, status = applied.decision, applied.status
    if status is Status.DUPLICATE:
        return {"outcome": "duplicate", "service": service, "reason": "this alarm episode was already handled"}
    if decision.move is Move.NONE:
        return {"outcome": "no rollback", "service": service, "reason": decision.reason}
    if status is Status.DRY_RUN:
        return {"outcome": "would roll back", "service": service, "reason": decision.reason}
    if status is Status.FAILED:
        return {"outcome": "failed", "service": service, "reason": applied.error}
    if status is Status.UNCHANGED:
        return {"outcome": "no rollback", "service": service, "reason": FINISHED_MEANWHILE}
    return {"outcome": "rolled back", "service": service, "reason": decision.reason, "move": decision.move.value}


def report_health(rt: Runtime[DeployRollbackSettings], event: AlarmStateChange) -> dict[str, Any]:
    detail = event.detail
    what = detail.alarm_name.removeprefix(rt.settings.health_alarm_prefix)
    rt.slack.post(reports.health_alarm(what, detail.state.reason, detail.configuration.description))
    metrics.add_metric(name="HealthAlarms", unit=MetricUnit.Count, value=1)
    return {"outcome": "health alarm reported", "alarm": detail.alarm_name}
