"""Deploy rollback: keep each service's deployment history from ECS events, and when a mapped alarm goes to ALARM
shortly after a deployment, roll the service back to its last good task definition — once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from steward.adapters import ecs as ecs_actions
from steward.adapters import slack as slack_actions
from steward.adapters import state as state_actions
from steward.adapters.aws import is_transient
from steward.adapters.ecs import RollbackEcs, cluster_name
from steward.adapters.state import Key, StateUnavailable, service_key
from steward.domain import slack as blocks
from steward.domain.rollback import (
    ALARM_SERVICE_TAG,
    ROLLBACK_TAG,
    STATUS_ORDER,
    Deployment,
    Move,
    RollbackContext,
    RollbackDecision,
    decide_rollback,
    is_scaling_alarm,
    newer,
    revision,
)
from steward.domain.services import CHANNEL_TAG
from steward.models.cloudwatch import AlarmStateChange
from steward.models.ecs import DeploymentStateChange
from steward.observability import logger, metrics
from steward.runtime import Runtime
from steward.settings import DeployRollbackSettings

DEPLOYMENT = "deployment#"
ROLLBACK_MARKER = "rollback"
HISTORY_LIFETIME = timedelta(days=90)
EPISODE_LIFETIME = timedelta(days=7)
STATUS_WORDS = {
    "SERVICE_DEPLOYMENT_IN_PROGRESS": "IN_PROGRESS",
    "SERVICE_DEPLOYMENT_COMPLETED": "COMPLETED",
    "SERVICE_DEPLOYMENT_FAILED": "FAILED",
}
QUIET_REASONS = ("opted out", "held off", "outside the", "no deployment recorded", "fired before")

IAM_ACTIONS = (
    ecs_actions.ROLLBACK_ACTIONS
    | slack_actions.IAM_ACTIONS
    | {state_actions.READ, state_actions.WRITE, state_actions.UPDATE, state_actions.DELETE, state_actions.QUERY}
)


def handle(rt: Runtime[DeployRollbackSettings], event: BaseModel) -> dict[str, Any]:
    if isinstance(event, DeploymentStateChange):
        return record_deployment(rt, event)
    if isinstance(event, AlarmStateChange):
        return on_alarm(rt, event)
    return {"outcome": "ignored", "reason": f"{type(event).__name__} is not handled here"}


def split_service_arn(service_arn: str, cluster_arn: str = "") -> tuple[str, str]:
    """New-style ARNs carry the cluster (service/CLUSTER/NAME); old-style ones (service/NAME) need it given."""
    path = service_arn.split(":", 5)[-1].removeprefix("service/")
    cluster, _, name = path.rpartition("/")
    return (cluster or cluster_name(cluster_arn) or "default"), name


# ------------------------------------------------------------------------------------------ history


def deployment_from(item: dict[str, Any]) -> Deployment:
    return Deployment(
        deployment_id=str(item["deployment_id"]),
        task_definition=str(item.get("task_definition", "")),
        status=str(item["status"]),
        started_at=datetime.fromisoformat(item["started_at"]),
        updated_at=datetime.fromisoformat(item["updated_at"]),
        reason=str(item.get("reason", "")),
        by_steward=bool(item.get("by_steward", False)),
    )


def record_deployment(rt: Runtime[DeployRollbackSettings], event: DeploymentStateChange) -> dict[str, Any]:
    cluster, name = split_service_arn(event.service_arn)
    detail = event.detail
    key = service_key(cluster, name, DEPLOYMENT + detail.deployment_id)
    status = STATUS_WORDS[detail.event_name]
    stored_item = rt.state.get(key)
    stored = deployment_from(stored_item) if stored_item else None
    incoming = Deployment(
        deployment_id=detail.deployment_id,
        task_definition=stored.task_definition if stored else "",
        status=status,
        started_at=stored.started_at if stored else detail.updated_at,
        updated_at=detail.updated_at,
        reason=detail.reason,
        by_steward=stored.by_steward if stored else False,
    )
    if not newer(incoming, stored):
        return {
            "outcome": "duplicate",
            "deployment": detail.deployment_id,
            "reason": "an equal or later state is recorded",
        }

    ecs = RollbackEcs(rt.aws)
    raw = ecs.describe_raw(cluster, name)
    if not incoming.task_definition and raw:
        incoming = _with_task_definition(incoming, raw, status)
    marker = rt.state.get(service_key(cluster, name, ROLLBACK_MARKER))
    if (
        marker
        and marker.get("to") == incoming.task_definition
        and marker.get("at", "") <= incoming.updated_at.isoformat()
    ):
        incoming = Deployment(**{**incoming.__dict__, "by_steward": True})

    item = {
        "deployment_id": incoming.deployment_id,
        "task_definition": incoming.task_definition,
        "status": incoming.status,
        "status_rank": STATUS_ORDER.get(incoming.status, 0),
        "started_at": incoming.started_at.isoformat(),
        "updated_at": incoming.updated_at.isoformat(),
        "reason": incoming.reason,
        "by_steward": incoming.by_steward,
    }
    if stored_item and stored_item.get("slack_ts"):
        item["slack_ts"] = stored_item["slack_ts"]
    written = rt.state.update(
        key,
        item,
        condition="attribute_not_exists(updated_at) OR updated_at < :u OR (updated_at = :u AND status_rank < :r)",
        condition_values={":u": item["updated_at"], ":r": item["status_rank"]},
        expires=event.time + HISTORY_LIFETIME,
    )
    if written is None:
        return {
            "outcome": "duplicate",
            "deployment": detail.deployment_id,
            "reason": "a later state was recorded meanwhile",
        }
    metrics.add_metric(name="DeploymentsRecorded", unit=MetricUnit.Count, value=1)
    tags = {tag["key"]: tag.get("value", "") for tag in (raw or {}).get("tags") or []}
    if rt.settings.deploy_notifications:
        ts = report_deployment(rt, cluster, name, incoming, tags.get(CHANNEL_TAG), thread_ts=written.get("slack_ts"))
        if ts and not written.get("slack_ts") and not rt.settings.dry_run:
            rt.state.update(key, {"slack_ts": ts})
    return {
        "outcome": "recorded",
        "deployment": incoming.deployment_id,
        "status": incoming.status,
        "task_definition": revision(incoming.task_definition),
    }


def _with_task_definition(deployment: Deployment, raw: dict[str, Any], status: str) -> Deployment:
    deployments = raw.get("deployments") or []
    match = next((d for d in deployments if d.get("id") == deployment.deployment_id), None)
    if match is None and status == "COMPLETED":
        match = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if match is None:
        return deployment
    created = match.get("createdAt")
    started = min(created, deployment.started_at) if isinstance(created, datetime) else deployment.started_at
    return Deployment(
        **{**deployment.__dict__, "task_definition": match.get("taskDefinition", ""), "started_at": started}
    )


# ------------------------------------------------------------------------------------------ alarms


def on_alarm(rt: Runtime[DeployRollbackSettings], event: AlarmStateChange) -> dict[str, Any]:
    detail = event.detail
    previous = detail.previous_state.value if detail.previous_state else "OK"
    if detail.state.value != "ALARM" or previous == "ALARM":
        return {"outcome": "ignored", "reason": f"alarm went {previous} → {detail.state.value}, not into ALARM"}
    prefix = rt.settings.health_alarm_prefix
    if prefix and detail.alarm_name.startswith(prefix):
        return report_health(rt, event)
    if is_scaling_alarm(detail.alarm_name, detail.configuration.description):
        # Scaling alarms go to ALARM whenever load moves: expected, so neither a rollback nor news.
        reason = "an Auto Scaling target tracking alarm; scaling alarms never trigger a rollback"
        logger.info("scaling alarm ignored", extra={"alarm": detail.alarm_name, "reason": reason})
        metrics.add_metric(name="ScalingAlarmsIgnored", unit=MetricUnit.Count, value=1)
        return {"outcome": "ignored", "alarm": detail.alarm_name, "reason": reason}
    ecs = RollbackEcs(rt.aws)
    mapped = map_alarm(ecs, event)
    if mapped is None:
        return {"outcome": "ignored", "reason": f"alarm {detail.alarm_name} maps to no service"}
    cluster, name = mapped
    label = f"{cluster}/{name}"

    raw = ecs.describe_raw(cluster, name)
    if raw is None:
        return {"outcome": "ignored", "service": label, "reason": "service not found"}
    tags = {tag["key"]: tag.get("value", "") for tag in raw.get("tags") or []}
    history = tuple(deployment_from(item) for item in rt.state.items_of(f"service#{label}", DEPLOYMENT))
    held = rt.state.get(service_key(cluster, name, "off-hours"))
    marker_key = service_key(cluster, name, ROLLBACK_MARKER)
    marker = rt.state.get(marker_key)
    alarms = (raw.get("deploymentConfiguration") or {}).get("alarms") or {}
    ctx = RollbackContext(
        service=label,
        opted_out=tags.get(ROLLBACK_TAG, "on").lower() == "off",
        held_off=bool(held and held.get("desired_count")),
        history=history,
        current_task_definition=str(raw.get("taskDefinition", "")),
        alarm_time=detail.state.timestamp,
        window=timedelta(minutes=rt.settings.window_minutes),
        cooldown=timedelta(minutes=rt.settings.cooldown_minutes),
        last_steward_rollback=datetime.fromisoformat(marker["at"]) if marker else None,
        native_alarm_rollback=bool(alarms.get("enable") and alarms.get("rollback"))
        and detail.alarm_name in (alarms.get("alarmNames") or []),
    )
    decision = decide_rollback(ctx)
    if decision.move is Move.UPDATE_SERVICE:
        active = ecs.task_definition_status(decision.target_task_definition) == "ACTIVE"
        decision = decide_rollback(ctx, target_is_active=active)

    # Claimed only after every read: a read that fails leaves no claim behind to turn Lambda's retry into a no-op.
    episode = Key(pk=f"alarm#{event.alarm_arn}", sk=f"episode#{detail.state.timestamp.isoformat()}")
    if not rt.settings.dry_run and not rt.state.put_new(
        episode, {"service": label}, expires=event.time + EPISODE_LIFETIME
    ):
        return {"outcome": "duplicate", "service": label, "reason": "this alarm episode was already handled"}

    channel = tags.get(CHANNEL_TAG)
    if decision.move is Move.NONE:
        logger.info("no rollback", extra={"service": label, "alarm": detail.alarm_name, "reason": decision.reason})
        metrics.add_metric(name="RollbacksDeclined", unit=MetricUnit.Count, value=1)
        if not decision.reason.startswith(QUIET_REASONS):
            report_rollback(rt, label, detail.alarm_name, decision.reason, channel, acted=False)
        return {"outcome": "no rollback", "service": label, "reason": decision.reason}

    if rt.settings.dry_run:
        report_rollback(rt, label, detail.alarm_name, decision.reason, channel, acted=False, dry=True)
        return {"outcome": "would roll back", "service": label, "reason": decision.reason}

    try:
        if not roll_back(rt, ecs, event, decision, ctx):
            return {"outcome": "no rollback", "service": label, "reason": "the deployment finished meanwhile"}
    except Exception as error:
        # The rollback did not happen: neither the claim nor a cooldown may outlive it.
        release_claim(rt, episode, marker_key if decision.move is Move.UPDATE_SERVICE else None, marker)
        if not isinstance(error, ClientError | BotoCoreError) or is_transient(error):
            raise
        logger.error("rollback failed", extra={"service": label, "error": str(error)})
        report_rollback(rt, label, detail.alarm_name, f"rollback failed: {error}", channel, acted=False)
        return {"outcome": "failed", "service": label, "reason": str(error)}
    metrics.add_metric(name="Rollbacks", unit=MetricUnit.Count, value=1)
    logger.info("rolled back", extra={"service": label, "alarm": detail.alarm_name, "reason": decision.reason})
    report_rollback(rt, label, detail.alarm_name, decision.reason, channel, acted=True)
    return {"outcome": "rolled back", "service": label, "reason": decision.reason, "move": decision.move.value}


def roll_back(
    rt: Runtime[DeployRollbackSettings],
    ecs: RollbackEcs,
    event: AlarmStateChange,
    decision: RollbackDecision,
    ctx: RollbackContext,
) -> bool:
    """Carry the decision out; False when the deployment it would stop has finished meanwhile."""
    cluster, name = ctx.service.split("/", 1)
    if decision.move is Move.STOP_DEPLOYMENT:
        return ecs.stop_deployment_with_rollback(cluster, name) is not None
    rt.state.put(
        service_key(cluster, name, ROLLBACK_MARKER),
        {
            "to": decision.target_task_definition,
            "from": ctx.current_task_definition,
            "at": event.detail.state.timestamp.isoformat(),
            "alarm": event.detail.alarm_name,
        },
        expires=event.time + HISTORY_LIFETIME,
    )
    ecs.deploy_task_definition(cluster, name, decision.target_task_definition)
    return True


def release_claim(
    rt: Runtime[DeployRollbackSettings], episode: Key, marker_key: Key | None, previous_marker: dict[str, Any] | None
) -> None:
    """Put back the rollback marker as it was and drop the episode's claim, so a retry decides afresh."""
    try:
        if marker_key is not None:
            if previous_marker:
                rt.state.put(marker_key, previous_marker)
            else:
                rt.state.delete(marker_key)
        rt.state.delete(episode)
    except StateUnavailable as error:
        logger.error("claim not released", extra={"claim": f"{episode.pk}/{episode.sk}", "error": str(error)})


def map_alarm(ecs: RollbackEcs, event: AlarmStateChange) -> tuple[str, str] | None:
    """The alarm's steward:service tag, or its metric's ClusterName + ServiceName dimensions."""
    dimensions = event.dimensions
    if dimensions.get("ClusterName") and dimensions.get("ServiceName"):
        return dimensions["ClusterName"], dimensions["ServiceName"]
    try:
        tagged = ecs.alarm_tags(event.alarm_arn).get(ALARM_SERVICE_TAG, "")
    except ClientError as error:
        if is_transient(error):
            raise
        logger.warning("alarm tags unreadable", extra={"alarm": event.alarm_arn, "error": str(error)})
        return None
    cluster, _, name = tagged.partition("/")
    return (cluster, name) if cluster and name else None


# ------------------------------------------------------------------------------------------ Slack


def report_health(rt: Runtime[DeployRollbackSettings], event: AlarmStateChange) -> dict[str, Any]:
    """Steward's own health alarms (errors, throttles, dead letters) reach the team the same way as everything else."""
    detail = event.detail
    what = detail.alarm_name.removeprefix(rt.settings.health_alarm_prefix)
    rt.slack.post(
        blocks.SlackMessage(
            text=f"Steward needs attention: {what} ({detail.state.reason})",
            blocks=(
                blocks.header(f"Steward needs attention: {what}"),
                blocks.section(blocks.escape(detail.configuration.description or detail.state.reason)),
                blocks.context("Runbook: the README's 'When Steward itself alarms' section."),
            ),
        )
    )
    metrics.add_metric(name="HealthAlarms", unit=MetricUnit.Count, value=1)
    return {"outcome": "health alarm reported", "alarm": detail.alarm_name}


STATUS_TEXT = {"IN_PROGRESS": "started", "COMPLETED": "completed", "FAILED": "failed"}


def report_deployment(
    rt: Runtime[DeployRollbackSettings],
    cluster: str,
    name: str,
    deployment: Deployment,
    channel: str | None,
    *,
    thread_ts: str | None,
) -> str | None:
    status = STATUS_TEXT.get(deployment.status, deployment.status.lower())
    if deployment.is_rollback:
        by = "Steward" if deployment.by_steward else "ECS"
        status = f"rolling back (by {by})" if deployment.status == "IN_PROGRESS" else f"rolled back (by {by})"
    target = revision(deployment.task_definition) or deployment.deployment_id
    text = f"Deployment {status}: {cluster}/{name} → {target}"
    message = blocks.SlackMessage(
        text=text,
        channel=channel,
        blocks=(
            blocks.section(
                f"*Deployment {blocks.escape(status)}*: `{blocks.escape(cluster)}/{blocks.escape(name)}`"
                f" → `{blocks.escape(target)}`"
            ),
            blocks.context(blocks.escape(deployment.reason or deployment.deployment_id)),
        ),
    )
    return rt.slack.post(message, thread_ts=thread_ts)


def report_rollback(
    rt: Runtime[DeployRollbackSettings],
    service: str,
    alarm: str,
    reason: str,
    channel: str | None,
    *,
    acted: bool,
    dry: bool = False,
) -> None:
    if dry:
        title = f"[dry run] Would roll back {service}"
    else:
        title = f"Rolled back {service}" if acted else f"No rollback for {service}"
    rt.slack.post(
        blocks.SlackMessage(
            text=f"{title}: {reason} (alarm {alarm})",
            channel=channel,
            blocks=(
                blocks.header(title),
                blocks.section(
                    blocks.escape(reason),
                    fields=[f"*Alarm*\n{blocks.escape(alarm)}", f"*Service*\n{blocks.escape(service)}"],
                ),
            ),
        )
    )
