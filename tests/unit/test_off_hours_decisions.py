"""The off-hours decision table: (schedule's wish, live service, Steward's record) → action and reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from steward.domain.off_hours import Action, OffHoursRecord, decide
from steward.domain.schedules import Desired
from steward.domain.services import RestoreRecord, ScalableTarget, ServiceView

NOW = datetime(2026, 11, 27, 19, 10, tzinfo=UTC)
OFF_EDGE = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)
ON_EDGE = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
OFF = Desired("off", OFF_EDGE, "office-hours@2026-11-27T19:00:00+00:00", "schedule office-hours: stop Fri 20:00")
ON = Desired("on", ON_EDGE, "office-hours@2026-11-30T06:00:00+00:00", "schedule office-hours: start Mon 07:00")
TARGET = ScalableTarget(2, 8, {"DynamicScalingInSuspended": False})


def service(desired: int = 4, **tags: str) -> ServiceView:
    all_tags = {
        "steward:schedule": "office-hours",
        **{k.replace("_", ":", 1).replace("_", "-"): v for k, v in tags.items()},
    }
    return ServiceView("pyairtable-dev", "api-gateway", "arn:svc", desired, all_tags)


def held(status: str = "stopped", stopped_by: str = "schedule", at: datetime = OFF_EDGE) -> OffHoursRecord:
    restore = RestoreRecord(4, TARGET, at, stopped_by, OFF.edge_id, status)
    return OffHoursRecord(OFF.edge_id, restore)


def test_off_edge_stops_a_running_service() -> None:
    decision = decide(service(), OFF, None, NOW)
    assert decision.action is Action.STOP
    assert "stop Fri 20:00" in decision.reason


def test_a_service_already_at_zero_is_left_alone_with_nothing_to_restore() -> None:
    decision = decide(service(desired=0), OFF, None, NOW)
    assert decision.action is Action.MARK
    assert "already at 0" in decision.reason


def test_the_same_off_period_is_handled_once() -> None:
    assert decide(service(desired=0), OFF, held(), NOW).action is Action.NONE
    marker = OffHoursRecord(OFF.edge_id)
    decision = decide(service(desired=3), OFF, marker, NOW)  # scaled up by hand after being left at 0
    assert decision.action is Action.NONE
    assert "not fighting" in decision.reason


def test_a_manual_scale_up_during_the_night_is_not_fought() -> None:
    decision = decide(service(desired=3), OFF, held(), NOW)
    assert decision.action is Action.NONE
    assert "scaled up by hand" in decision.reason


def test_an_interrupted_stop_is_finished_on_the_next_tick() -> None:
    record = held(status="stopping")
    decision = decide(service(desired=4), OFF, record, NOW)
    assert decision.action is Action.STOP
    assert decision.restore == record.restore


def test_the_morning_start_restores_the_record() -> None:
    decision = decide(service(desired=0), ON, held(), ON_EDGE)
    assert decision.action is Action.START
    assert decision.restore.desired_count == 4
    assert decision.restore.target == TARGET
    assert not decision.keep_count


def test_the_morning_start_keeps_a_count_someone_set_by_hand() -> None:
    decision = decide(service(desired=3), ON, held(), ON_EDGE)
    assert decision.action is Action.START
    assert decision.keep_count
    assert "keeping that count" in decision.reason


def test_only_what_steward_stopped_is_started() -> None:
    decision = decide(service(desired=0), ON, None, ON_EDGE)
    assert decision.action is Action.NONE


def test_keep_awake_in_the_future_keeps_a_service_running_and_starts_a_held_one() -> None:
    until = (NOW + timedelta(hours=3)).isoformat()
    assert decide(service(steward_keep_awake_until=until), OFF, None, NOW).action is Action.NONE
    decision = decide(service(desired=0, steward_keep_awake_until=until), OFF, held(), NOW)
    assert decision.action is Action.START
    assert "kept awake until" in decision.reason


def test_an_expired_keep_awake_lets_the_schedule_apply_again() -> None:
    until = (NOW - timedelta(minutes=5)).isoformat()
    assert decide(service(steward_keep_awake_until=until), OFF, None, NOW).action is Action.STOP


def test_an_unreadable_keep_awake_holds_the_service_awake_until_it_is_fixed() -> None:
    decision = decide(service(steward_keep_awake_until="tomorrow-ish"), OFF, None, NOW)

    assert decision.action is Action.NONE
    assert "steward:keep-awake-until='tomorrow-ish' is not an ISO-8601 instant" in decision.reason


def test_removing_the_schedule_tag_while_held_restores_the_service() -> None:
    untagged = ServiceView("pyairtable-dev", "api-gateway", "arn:svc", 0, {})
    decision = decide(untagged, OFF, held(), NOW)
    assert decision.action is Action.START
    assert "tag removed" in decision.reason


def test_protected_services_are_never_stopped_and_a_held_one_is_restored() -> None:
    assert decide(service(steward_protected="true"), OFF, None, NOW).action is Action.SKIP
    assert decide(service(desired=0, steward_protected="true"), OFF, held(), NOW).action is Action.START


@pytest.mark.parametrize(
    ("view", "reason"),
    [
        (ServiceView("c", "d", "arn", 1, {"steward:schedule": "office-hours"}, scheduling_strategy="DAEMON"), "DAEMON"),
        (
            ServiceView("c", "d", "arn", 1, {"steward:schedule": "office-hours"}, deployment_in_progress=True),
            "deployment in progress",
        ),
        (ServiceView("c", "d", "arn", 0, {}, exists=False), "gone"),
    ],
)
def test_services_that_cannot_be_scaled_now_are_skipped_with_the_reason(view: ServiceView, reason: str) -> None:
    decision = decide(view, OFF, None, NOW)
    assert decision.action is Action.SKIP
    assert reason in decision.reason


def test_an_unknown_schedule_changes_nothing_and_says_so() -> None:
    decision = decide(service(), None, None, NOW, schedule_problem="unknown schedule 'office-hourz'")
    assert decision.action is Action.SKIP
    assert "office-hourz" in decision.reason


def test_a_budget_stop_during_working_hours_holds_until_the_next_scheduled_start() -> None:
    during_work = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    budget_hold = held(stopped_by="budget:dev-monthly", at=during_work)
    same_day_on = Desired("on", datetime(2026, 11, 27, 6, 0, tzinfo=UTC), "office-hours@x", "start Fri 07:00")
    assert (
        decide(service(desired=0), same_day_on, budget_hold, during_work + timedelta(minutes=10)).action is Action.NONE
    )
    assert decide(service(desired=0), ON, budget_hold, ON_EDGE).action is Action.START


def test_a_restore_record_can_never_hold_zero() -> None:
    with pytest.raises(ValueError, match="never holds a desired count of 0"):
        RestoreRecord(0, None, NOW, "schedule", "e")
