"""Deploy rollback decisions: which deployments count, which one was the last good one, and whether an alarm
may roll a service back now. Every refusal is a sentence the team reads in Slack."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from enum import StrEnum

from msgspec import Struct, field
from msgspec.structs import replace

from steward.domain.services import ROLLBACK_TAG, InvalidTag, channel_of, read_switch

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


class Deployment(Struct, frozen=True):
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


class LiveDeployment(Struct, frozen=True):
    """One of the deployments ECS lists on a service right now (PRIMARY, ACTIVE, ...)."""

    deployment_id: str
    status: str
    task_definition: str
    created_at: datetime | None = None


class RollbackService(Struct, frozen=True):
    """What a rollback needs to know of a service as ECS describes it now."""

    tags: dict[str, str]
    task_definition: str
    deployments: tuple[LiveDeployment, ...] = ()
    ecs_rollback_alarms: frozenset[str] = frozenset()  # alarms ECS's own deployment alarms roll back on

    @property
    def rollback_tag(self) -> bool | InvalidTag | None:
        return read_switch(self.tags, ROLLBACK_TAG)

    @property
    def opted_out(self) -> bool:
        """Switched off, or with a value Steward cannot read: an unreadable opt-out never rolls back."""
        return self.rollback_tag is False or isinstance(self.rollback_tag, InvalidTag)

    @property
    def opted_out_because(self) -> str:
        reading = self.rollback_tag
        if isinstance(reading, InvalidTag):
            return reading.sentence()
        return f"opted out ({ROLLBACK_TAG}={self.tags.get(ROLLBACK_TAG)})"

    @property
    def channel(self) -> str | None:
        return channel_of(self.tags)


class RollbackMarker(Struct, frozen=True):
    """Steward's last rollback of a service: the cooldown runs from `at`, and the deployment to `to` is Steward's."""

    to: str
    from_: str
    at: datetime
    alarm: str

    def marks(self, deployment: Deployment) -> bool:
        return self.to == deployment.task_definition and self.at <= deployment.updated_at


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


def observed_deployment(
    deployment_id: str, status: str, updated_at: datetime, reason: str, stored: Deployment | None
) -> Deployment:
    """A deployment state change as it adds to what is recorded: start and task definition come from the record."""
    return Deployment(
        deployment_id=deployment_id,
        task_definition=stored.task_definition if stored else "",
        status=status,
        started_at=stored.started_at if stored else updated_at,
        updated_at=updated_at,
        reason=reason,
        by_steward=stored.by_steward if stored else False,
    )


def resolved_deployment(
    deployment: Deployment, service: RollbackService | None, marker: RollbackMarker | None
) -> Deployment:
    """The task definition ECS lists for the deployment (or, once completed, for its PRIMARY one), and whether it is
    the deployment Steward's last rollback started."""
    if not deployment.task_definition and service is not None:
        deployment = _with_live_task_definition(deployment, service)
    if marker is not None and marker.marks(deployment):
        deployment = replace(deployment, by_steward=True)
    return deployment


def _with_live_task_definition(deployment: Deployment, service: RollbackService) -> Deployment:
    live = service.deployments
    match = next((d for d in live if d.deployment_id == deployment.deployment_id), None)
    if match is None and deployment.status == "COMPLETED":
        match = next((d for d in live if d.status == "PRIMARY"), None)
    if match is None:
        return deployment
    started = min(match.created_at, deployment.started_at) if match.created_at else deployment.started_at
    return replace(deployment, task_definition=match.task_definition, started_at=started)


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


class RollbackContext(Struct, frozen=True):
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
    alarm: str = ""
    opted_out_because: str = f"opted out ({ROLLBACK_TAG}=off)"


class RollbackDecision(Struct, frozen=True):
    move: Move
    reason: str
    target_task_definition: str = ""
    deployment: Deployment | None = None
    marker: RollbackMarker | None = None  # what to remember before a task definition rollback (its cooldown)


def _none(reason: str) -> RollbackDecision:
    return RollbackDecision(Move.NONE, reason)


class _Facts(Struct, frozen=True):
    """The context and what follows from it, for the rules to read."""

    ctx: RollbackContext
    target_is_active: bool | None
    changes: list[Deployment] = field(default_factory=list)

    @property
    def latest(self) -> Deployment:
        return self.changes[-1]

    @property
    def target(self) -> Deployment | None:
        """The last deployment that completed, of a task definition other than the latest's."""
        latest = self.latest
        good = [d for d in self.changes[:-1] if d.status == "COMPLETED" and d.task_definition != latest.task_definition]
        return good[-1] if good else None


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


def _opted_out(facts: _Facts) -> RollbackDecision | None:
    return _none(facts.ctx.opted_out_because) if facts.ctx.opted_out else None


def _held_off(facts: _Facts) -> RollbackDecision | None:
    return _none("held off by off-hours; alarms on a stopped service are expected") if facts.ctx.held_off else None


def _nothing_deployed(facts: _Facts) -> RollbackDecision | None:
    return None if facts.changes else _none("no deployment recorded for this service")


def _outside_window(facts: _Facts) -> RollbackDecision | None:
    latest, ctx = facts.latest, facts.ctx
    if latest.status == "IN_PROGRESS" or ctx.alarm_time - latest.updated_at <= ctx.window:
        return None
    minutes, window = _minutes(ctx.alarm_time - latest.updated_at), _minutes(ctx.window)
    return _none(f"alarm {minutes} min after the last deployment, outside the {window} min window")


def _before_deployment(facts: _Facts) -> RollbackDecision | None:
    if facts.ctx.alarm_time < facts.latest.started_at:
        return _none("the alarm fired before the last deployment started")
    return None


def _a_rollback(facts: _Facts) -> RollbackDecision | None:
    if facts.latest.is_rollback:
        return _none("the last deployment is itself a rollback; never rolling back a rollback")
    return None


def _cooling_down(facts: _Facts) -> RollbackDecision | None:
    last, ctx = facts.ctx.last_steward_rollback, facts.ctx
    if last is not None and ctx.alarm_time - last < ctx.cooldown:
        return _none("rolled back recently; within the cooldown")
    return None


def _in_progress(facts: _Facts) -> RollbackDecision | None:
    latest = facts.latest
    if latest.status != "IN_PROGRESS":
        return None
    if facts.ctx.native_alarm_rollback:
        return _none("ECS's deployment alarms roll this deployment back themselves")
    return RollbackDecision(
        Move.STOP_DEPLOYMENT, f"alarm during deployment of {revision(latest.task_definition)}", deployment=latest
    )


def _target_is_current(facts: _Facts) -> RollbackDecision | None:
    target = facts.target
    if target is not None and target.task_definition == facts.ctx.current_task_definition:
        return _none(f"rollback impossible: {revision(target.task_definition)} is already the current task definition")
    return None


def _target_inactive(facts: _Facts) -> RollbackDecision | None:
    target = facts.target
    if target is not None and facts.target_is_active is False:
        return _none(f"rollback impossible: {revision(target.task_definition)} is INACTIVE")
    return None


def _back_to_target(facts: _Facts) -> RollbackDecision:
    target, latest, ctx = facts.target, facts.latest, facts.ctx
    if target is None:
        return _none("rollback impossible: no previous successful deployment")
    return RollbackDecision(
        Move.UPDATE_SERVICE,
        f"alarm after deployment of {revision(latest.task_definition)}: back to {revision(target.task_definition)}",
        target_task_definition=target.task_definition,
        deployment=latest,
        marker=RollbackMarker(
            to=target.task_definition, from_=ctx.current_task_definition, at=ctx.alarm_time, alarm=ctx.alarm
        ),
    )


# In order: the first rule that answers decides; with none, back to the target. Each refusal is what the team reads.
RULES: tuple[Callable[[_Facts], RollbackDecision | None], ...] = (
    _opted_out,
    _held_off,
    _nothing_deployed,
    _outside_window,
    _before_deployment,
    _a_rollback,
    _cooling_down,
    _in_progress,
    _target_is_current,
    _target_inactive,
)


def decide_rollback(ctx: RollbackContext, target_is_active: bool | None = None) -> RollbackDecision:
    """Roll back or not. `target_is_active` is None until the workflow has looked the target up."""
    facts = _Facts(ctx, target_is_active, app_deployments(ctx.history))
    for rule in RULES:
        decision = rule(facts)
        if decision is not None:
            return decision
    return _back_to_target(facts)
