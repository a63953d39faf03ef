"""The off-hours decision: one pure function from (what the schedule asks, what the service is, what we recorded)
to an action with a reason. Every skip and every action says why, in words the Slack report and the log share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from steward.domain.schedules import Desired
from steward.domain.services import OffHoursRecord, RestoreRecord, ServiceView, keep_awake_until


class Action(StrEnum):
    STOP = "stop"
    START = "start"
    MARK = "mark"  # remember the off edge was handled, with nothing to hold (the service was already at 0)
    NONE = "none"
    SKIP = "skip"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    restore: RestoreRecord | None = None  # for START: what to restore
    keep_count: bool = False  # for START: someone scaled it up by hand; restore the target only


def decide(
    service: ServiceView,
    desired: Desired | None,
    record: OffHoursRecord | None,
    now: datetime,
    schedule_problem: str | None = None,
) -> Decision:
    """What to do with one service at `now`. `schedule_problem` names why its schedule cannot be evaluated."""
    held = record.restore if record else None

    if not service.exists:
        return Decision(
            Action.SKIP, "service or its cluster is gone" + ("; its restore record is kept" if held else "")
        )
    if service.scheduling_strategy == "DAEMON":
        return Decision(Action.SKIP, "DAEMON service: runs one task per instance, nothing to scale")
    if service.deployment_in_progress:
        return Decision(Action.SKIP, "deployment in progress; will retry next tick")

    keep_awake = keep_awake_until(service)
    if keep_awake is not None and keep_awake > now:
        until = f"kept awake until {keep_awake.isoformat()}"
        return _start(service, held)(until) if held else Decision(Action.NONE, until)

    if held is not None:
        start = _start(service, held)
        if held.hold_until is not None and now >= held.hold_until:
            return start(f"{held.stopped_by}: the budget period has reset")
        if service.protected:
            return start("marked steward:protected while held off")
        if service.schedule_name is None:
            if held.stopped_by == "schedule":
                return start("steward:schedule tag removed while held off")
            return Decision(Action.NONE, f"held off by {held.stopped_by} until its period resets or keep-awake is set")

    if service.protected:
        return Decision(Action.SKIP, "steward:protected=true")
    if service.schedule_name is None:
        return Decision(Action.SKIP, "no steward:schedule tag")
    if schedule_problem is not None:
        suffix = "; it is held off at 0 until the schedule is fixed or the tag removed" if held else ""
        return Decision(Action.SKIP, schedule_problem + suffix)

    if desired is None:
        return Decision(Action.NONE, "schedule has no edge in the past week")

    if desired.state == "on":
        if held is None:
            return Decision(Action.NONE, f"on: {desired.reason}")
        if held.stopped_by != "schedule" and held.stopped_at >= desired.since:
            return Decision(Action.NONE, f"held off by {held.stopped_by} until the next scheduled start")
        return _start(service, held)(desired.reason)

    # desired off
    if held is not None:
        if held.status == "stopping" and service.desired_count > 0:
            return Decision(Action.STOP, f"finishing an interrupted stop ({desired.reason})", restore=held)
        if service.desired_count > 0:
            return Decision(
                Action.NONE, f"scaled up by hand while held off; left at {service.desired_count} until the next start"
            )
        return Decision(Action.NONE, f"held off since {held.stopped_at.isoformat()}")
    if record is not None and record.edge_id == desired.edge_id:
        return Decision(Action.NONE, "this off period was already handled; not fighting a manual change")
    if service.desired_count == 0:
        return Decision(Action.MARK, f"already at 0 when the off period began; nothing to restore ({desired.reason})")
    return Decision(Action.STOP, f"off: {desired.reason}")


def _start(service: ServiceView, held: RestoreRecord) -> Callable[[str], Decision]:
    def decision(reason: str) -> Decision:
        if held.status == "stopped" and service.desired_count > 0:
            return Decision(
                Action.START,
                f"{reason}; scaled up by hand to {service.desired_count} while off, keeping that count",
                restore=held,
                keep_count=True,
            )
        return Decision(Action.START, reason, restore=held)

    return decision
