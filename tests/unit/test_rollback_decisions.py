"""The rollback decision table: which deployment is the last good one, and when an alarm may act."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from steward.domain.rollback import (
    Deployment,
    LiveDeployment,
    Move,
    RollbackContext,
    RollbackMarker,
    RollbackService,
    app_deployments,
    decide_rollback,
    is_scaling_alarm,
    newer,
    resolved_deployment,
)

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
TD = "arn:aws:ecs:eu-central-1:111122223333:task-definition/api-gateway:{}"


def dep(number: int, minutes: int, status: str = "COMPLETED", reason: str = "", by_steward: bool = False) -> Deployment:
    at = T0 + timedelta(minutes=minutes)
    return Deployment(
        f"ecs-svc/{minutes}", TD.format(number), status, at, at + timedelta(minutes=5), reason, by_steward
    )


def context(*history: Deployment, alarm_minutes: int, current: int = 42, **overrides: object) -> RollbackContext:
    fields: dict[str, object] = {
        "service": "c/api-gateway",
        "opted_out": False,
        "held_off": False,
        "history": history,
        "current_task_definition": TD.format(current),
        "alarm_time": T0 + timedelta(minutes=alarm_minutes),
        "window": timedelta(minutes=60),
        "cooldown": timedelta(minutes=30),
        "last_steward_rollback": None,
        "native_alarm_rollback": False,
    }
    fields.update(overrides)
    return RollbackContext(**fields)  # type: ignore[arg-type]


def test_the_target_is_the_last_successful_deployment_not_the_previous_revision() -> None:
    decision = decide_rollback(context(dep(40, 0), dep(42, 120), alarm_minutes=140), target_is_active=True)
    assert decision.move is Move.UPDATE_SERVICE
    assert decision.target_task_definition == TD.format(40)


def test_a_failed_deployment_is_never_a_target() -> None:
    history = (dep(39, 0), dep(40, 60, status="FAILED"), dep(42, 120))
    assert decide_rollback(context(*history, alarm_minutes=140), True).target_task_definition == TD.format(39)


def test_same_task_definition_deployments_are_not_app_deployments() -> None:
    spot_restart = dep(42, 150)
    assert [d.task_definition for d in app_deployments((dep(40, 0), dep(42, 120), spot_restart))] == [
        TD.format(40),
        TD.format(42),
    ]
    decision = decide_rollback(context(dep(40, 0), dep(42, 120), spot_restart, alarm_minutes=170), True)
    assert decision.move is Move.UPDATE_SERVICE  # the window runs from :42's deployment, not the restart


def test_rollbacks_are_never_rolled_back() -> None:
    by_ecs = dep(40, 130, reason="ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/0")
    assert (
        "never rolling back a rollback"
        in decide_rollback(context(dep(40, 0), dep(42, 120), by_ecs, alarm_minutes=140)).reason
    )
    by_steward = dep(40, 130, by_steward=True)
    assert (
        "never rolling back" in decide_rollback(context(dep(40, 0), dep(42, 120), by_steward, alarm_minutes=140)).reason
    )


def test_cooldown_window_and_opt_out() -> None:
    history = (dep(40, 0), dep(42, 120))
    assert (
        "cooldown"
        in decide_rollback(
            context(*history, alarm_minutes=140, last_steward_rollback=T0 + timedelta(minutes=125))
        ).reason
    )
    assert "outside the 60 min window" in decide_rollback(context(*history, alarm_minutes=200)).reason
    assert "opted out" in decide_rollback(context(*history, alarm_minutes=140, opted_out=True)).reason
    assert "held off" in decide_rollback(context(*history, alarm_minutes=140, held_off=True)).reason


def test_out_of_order_states_keep_the_latest() -> None:
    in_progress, completed = dep(42, 0, "IN_PROGRESS"), dep(42, 0)
    assert newer(completed, in_progress)
    assert not newer(in_progress, completed)
    assert not newer(completed, completed)


def test_the_alarms_auto_scaling_creates_for_its_policies_are_scaling_alarms_and_others_are_not() -> None:
    uuid = "d4f0770c-b46e-434a-a60f-3b36d653feca"
    assert is_scaling_alarm(f"TargetTracking-service/pyairtable-dev/api-gateway-AlarmHigh-{uuid}", "")
    assert is_scaling_alarm(f"TargetTracking-service/pyairtable-dev/api-gateway-AlarmLow-{uuid}", "")
    # A renamed copy still carries the description Application Auto Scaling writes.
    policy = (
        "arn:aws:autoscaling:eu-central-1:111122223333:scalingPolicy:6d8972f3:resource/ecs/service/c/s:policyName/p"
    )
    assert is_scaling_alarm("api-cpu", f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {policy}.")
    assert not is_scaling_alarm("api-gateway-5xx", "api-gateway answers with 5xx after a deploy")
    assert not is_scaling_alarm("api-gateway-TargetTracking-like", "")


def test_a_rollback_decision_carries_the_marker_that_starts_its_cooldown() -> None:
    decision = decide_rollback(
        context(dep(40, 0), dep(42, 120), alarm_minutes=140, alarm="api-gateway-5xx"), target_is_active=True
    )
    assert decision.marker == RollbackMarker(
        to=TD.format(40), from_=TD.format(42), at=T0 + timedelta(minutes=140), alarm="api-gateway-5xx"
    )
    assert decide_rollback(context(dep(40, 0), dep(42, 120), alarm_minutes=200)).marker is None


def test_a_deployment_takes_its_task_definition_from_ecs_and_is_stewards_when_the_marker_names_it() -> None:
    event_only = Deployment("ecs-svc/9", "", "COMPLETED", T0 + timedelta(minutes=6), T0 + timedelta(minutes=6))
    live = RollbackService(
        tags={},
        task_definition=TD.format(40),
        deployments=(LiveDeployment("ecs-svc/1", "PRIMARY", TD.format(40), T0),),
    )
    marker = RollbackMarker(to=TD.format(40), from_=TD.format(42), at=T0 - timedelta(minutes=1), alarm="a")

    resolved = resolved_deployment(event_only, live, marker)

    # Not listed by id, but completed: the PRIMARY deployment's task definition and start.
    assert (resolved.task_definition, resolved.started_at, resolved.by_steward) == (TD.format(40), T0, True)
    assert not resolved_deployment(event_only, live, None).by_steward
    assert resolved_deployment(event_only, None, None) == event_only
