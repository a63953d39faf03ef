"""Deploy rollback decisions: which deployments count, which one was the last good one, and whether an alarm
may roll a service back now. Every refusal is a sentence the team reads in Slack."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

ROLLBACK_TAG = "steward:rollback"
ALARM_SERVICE_TAG = "steward:service"

STATUS_ORDER = {"IN_PROGRESS": 0, "COMPLETED": 1, "FAILED": 1}

# Target tracking alarms are named "TargetTracking-<resource id>-AlarmHigh|AlarmLow-<uuid>" (Application Auto Scaling
# API Reference, PutScalingPolicy) and described "DO NOT EDIT OR DELETE. For TargetTrackingScaling policy <arn>.".
# Step scaling alarms are the user's own and have no such name: only their actions (DescribeAlarms) would tell.
SCALING_ALARM_PREFIX = "TargetTracking-"
SCALING_ALARM_DESCRIPTION = "DO NOT EDIT OR DELETE. For TargetTrackingScaling policy "


class Move(StrEnum):
    UPDATE_SERVICE = "update-service"  # the deployment completed: deploy the last good task definition
    STOP_DEPLOYMENT = "stop-deployment"  # still in progress: stop it with a rollback
    NONE = "none"


@dataclass(frozen=True)
class Deployment:
    deployment_id: str
    task_definition: str  # full ARN with revision, "" when it could not be resolved
    status: str  # IN_PROGRESS, COMPLETED, FAILED
    started_at: datetime
    updated_at: datetime
    reason: str = ""
    by_steward: bool = False

    @property
    def is_ecs_rollback(self) -> bool:
        return "rolling back" in self.reason.lower()

    @property
    def is_rollback(self) -> bool:
        return self.by_steward or self.is_ecs_rollback


def revision(task_definition: str) -> str:
    """'arn:…:task-definition/api-gateway:42' → 'api-gateway:42'."""
    return task_definition.rsplit("/", 1)[-1]


def newer(incoming: Deployment, stored: Deployment | None) -> bool:
    """Out-of-order events: keep the later update; at the same instant a final status beats IN_PROGRESS."""
    if stored is None:
        return True
    return (incoming.updated_at, STATUS_ORDER.get(incoming.status, 0)) > (
        stored.updated_at,
        STATUS_ORDER.get(stored.status, 0),
    )


def is_scaling_alarm(alarm_name: str, description: str) -> bool:
    """An alarm Auto Scaling created for a target tracking policy: it flips to ALARM whenever load moves."""
    return alarm_name.startswith(SCALING_ALARM_PREFIX) or description.startswith(SCALING_ALARM_DESCRIPTION)


def app_deployments(history: Iterable[Deployment]) -> list[Deployment]:
    """Deployments that changed the task definition, oldest first. A deployment that runs the same task definition
    as the one before it (a Spot fallback's strategy change, a forced restart) is not an app deployment."""
    ordered = sorted((d for d in history if d.task_definition), key=lambda d: (d.started_at, d.deployment_id))
    changes: list[Deployment] = []
    for deployment in ordered:
        if not changes or deployment.task_definition != changes[-1].task_definition:
            changes.append(deployment)
    return changes


@dataclass(frozen=True)
class RollbackContext:
    """Everything the decision needs, gathered by the workflow."""

    service: str
    opted_out: bool
    held_off: bool
    history: tuple[Deployment, ...]
    current_task_definition: str
    alarm_time: datetime
    window: timedelta
    cooldown: timedelta
    last_steward_rollback: datetime | None
    native_alarm_rollback: bool  # ECS's own deployment alarms with rollback watch this alarm


@dataclass(frozen=True)
class RollbackDecision:
    move: Move
    reason: str
    target_task_definition: str = ""
    deployment: Deployment | None = None


def _none(reason: str) -> RollbackDecision:
    return RollbackDecision(Move.NONE, reason)


def decide_rollback(ctx: RollbackContext, target_is_active: bool | None = None) -> RollbackDecision:
    """Roll back or not. `target_is_active` is None until the workflow has looked the target up."""
    if ctx.opted_out:
        return _none("opted out (steward:rollback=off)")
    if ctx.held_off:
        return _none("held off by off-hours; alarms on a stopped service are expected")
    changes = app_deployments(ctx.history)
    if not changes:
        return _none("no deployment recorded for this service")
    latest = changes[-1]
    since = latest.updated_at if latest.status != "IN_PROGRESS" else latest.started_at
    if latest.status != "IN_PROGRESS" and ctx.alarm_time - since > ctx.window:
        minutes = int((ctx.alarm_time - since).total_seconds() // 60)
        window = int(ctx.window.total_seconds() // 60)
        return _none(f"alarm {minutes} min after the last deployment, outside the {window} min window")
    if ctx.alarm_time < latest.started_at:
        return _none("the alarm fired before the last deployment started")
    if latest.is_rollback:
        return _none("the last deployment is itself a rollback; never rolling back a rollback")
    if ctx.last_steward_rollback is not None and ctx.alarm_time - ctx.last_steward_rollback < ctx.cooldown:
        return _none("rolled back recently; within the cooldown")
    if latest.status == "IN_PROGRESS":
        if ctx.native_alarm_rollback:
            return _none("ECS's deployment alarms roll this deployment back themselves")
        return RollbackDecision(
            Move.STOP_DEPLOYMENT, f"alarm during deployment of {revision(latest.task_definition)}", deployment=latest
        )
    good = [d for d in changes[:-1] if d.status == "COMPLETED" and d.task_definition != latest.task_definition]
    if not good:
        return _none("rollback impossible: no previous successful deployment")
    target = good[-1]
    if target.task_definition == ctx.current_task_definition:
        return _none(f"rollback impossible: {revision(target.task_definition)} is already the current task definition")
    if target_is_active is False:
        return _none(f"rollback impossible: {revision(target.task_definition)} is INACTIVE")
    return RollbackDecision(
        Move.UPDATE_SERVICE,
        f"alarm after deployment of {revision(latest.task_definition)}: back to {revision(target.task_definition)}",
        target_task_definition=target.task_definition,
        deployment=latest,
    )
