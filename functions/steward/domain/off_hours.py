"""The off-hours decision: one pure function from (what the schedule asks, what the service is, what we recorded)
to an action with a reason. Every skip and every action says why, in words the Slack report and the log share.

`decide` asks an ordered list of named rules; the first one that has an answer decides. The order is the policy:
what cannot be scaled at all, then keep-awake, then why a held service comes back, then why a service is out of
the schedule's hands, then what the schedule asks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum

from msgspec import Struct
from msgspec.structs import replace

from steward.domain.schedules import Desired, Schedule
from steward.domain.services import (
    InvalidTag,
    OffHoursRecord,
    RestoreRecord,
    ScalableTarget,
    ServiceView,
    invalid_tags,
    keep_awake_until,
)
from steward.domain.slack import when

__all__ = ["Action", "Decision", "OffHoursRecord", "Verdict", "decide", "decide_each", "in_scope", "only_restores"]


class Action(StrEnum):
    STOP = "stop"
    START = "start"
    MARK = "mark"  # remember the off edge was handled, with nothing to hold (the service was already at 0)
    NONE = "none"
    SKIP = "skip"


class Decision(Struct, frozen=True):
    action: Action
    reason: str
    restore: RestoreRecord | None = None  # START: what to restore; STOP: the record that holds it at 0
    keep_count: bool = False  # for START: someone scaled it up by hand; restore the target only
    new_hold: bool = False  # for STOP: `restore` is not stored yet; it takes the scalable target read before the stop
    edge_id: str = ""  # for MARK: the off edge handled
    back_at: datetime | None = None  # for STOP: when its schedule next starts it (None: no start within a week)
    retry: bool = False  # nothing now, but the next tick must look again (it is in motion)

    @property
    def changes(self) -> bool:
        return self.action not in (Action.NONE, Action.SKIP)


# What a tick reports for a stop another invocation claimed first.
ALREADY_STOPPING = Decision(Action.SKIP, "another run is already stopping it")


class Verdict(Struct, frozen=True):
    """One tagged service and what the tick decided for it."""

    service: ServiceView
    decision: Decision
    invalid: tuple[InvalidTag, ...] = ()  # its steward:* tag values Steward cannot read

    def with_target(self, target: ScalableTarget | None) -> Verdict:
        """A new hold records the scalable target the service has when it is stopped (read after deciding)."""
        restore = self.decision.restore
        if not self.decision.new_hold or restore is None:
            return self
        return replace(self, decision=replace(self.decision, restore=replace(restore, target=target)))


class Situation(Struct, frozen=True):
    """Everything one decision looks at."""

    service: ServiceView
    desired: Desired | None
    record: OffHoursRecord | None
    now: datetime
    schedule_problem: str | None

    @property
    def held(self) -> RestoreRecord | None:
        return self.record.restore if self.record else None

    @property
    def wish(self) -> Desired:
        """What the schedule asks; the rules that read it come after `_out_of_schedule`, which answers without one."""
        assert self.desired is not None
        return self.desired


Rule = Callable[[Situation], Decision | None]


def decide(
    service: ServiceView,
    desired: Desired | None,
    record: OffHoursRecord | None,
    now: datetime,
    schedule_problem: str | None = None,
) -> Decision:
    """What to do with one service at `now`. `schedule_problem` names why its schedule cannot be evaluated."""
    situation = Situation(service, desired, record, now, schedule_problem)
    for rule in RULES:
        decision = rule(situation)
        if decision is not None:
            return _spared(situation, decision)
    raise AssertionError("the last rule always decides")


def _spared(s: Situation, decision: Decision) -> Decision:
    """An unreadable keep-awake never lets a service be stopped: it may have meant to keep it awake."""
    keep_awake = keep_awake_until(s.service)
    if decision.action is Action.STOP and isinstance(keep_awake, InvalidTag):
        return Decision(Action.NONE, f"{keep_awake.sentence()} until it is fixed")
    return decision


def _cannot_be_scaled(s: Situation) -> Decision | None:
    if not s.service.exists:
        return Decision(
            Action.SKIP, "service or its cluster is gone" + ("; its restore record is kept" if s.held else "")
        )
    if s.service.scheduling_strategy == "DAEMON":
        return Decision(Action.SKIP, "DAEMON service: runs one task per instance, nothing to scale")
    if s.service.deployment_in_progress:
        return Decision(Action.SKIP, "deployment in progress; will retry next tick", retry=True)
    return None


def _kept_awake(s: Situation) -> Decision | None:
    keep_awake = keep_awake_until(s.service)
    if isinstance(keep_awake, InvalidTag):
        return None  # `_spared` keeps it from being stopped; a start the schedule asks for still happens
    if keep_awake is None or keep_awake <= s.now:
        return None
    until = f"kept awake until {when(keep_awake)}"
    return _start(s.service, s.held, until) if s.held else Decision(Action.NONE, until)


def _hold_ends(s: Situation) -> Decision | None:
    """A held service whose hold no longer applies comes back; one held by a budget stays without a schedule."""
    held = s.held
    if held is None:
        return None
    if held.hold_until is not None and s.now >= held.hold_until:
        return _start(s.service, held, f"{held.stopped_by}: the budget period has reset")
    if s.service.protected:
        return _start(s.service, held, f"marked protected while held off ({s.service.protected_because})")
    if s.service.schedule_name is None:
        if held.stopped_by == "schedule":
            return _start(s.service, held, "steward:schedule tag removed while held off")
        return Decision(Action.NONE, f"held off by {held.stopped_by} until its period resets or keep-awake is set")
    return None


def _out_of_schedule(s: Situation) -> Decision | None:
    if s.service.schedule_name is None:
        # Not off-hours' to skip: it is here only for its record or a tag value it cannot read.
        return Decision(Action.NONE, "no steward:schedule tag")
    if s.service.protected:
        return Decision(Action.SKIP, s.service.protected_because)
    if s.schedule_problem is not None:
        suffix = "; it is held off at 0 until the schedule is fixed or the tag removed" if s.held else ""
        return Decision(Action.SKIP, s.schedule_problem + suffix)
    if s.desired is None:
        return Decision(Action.NONE, "schedule has no edge in the past week")
    return None


def _on(s: Situation) -> Decision | None:
    desired, held = s.wish, s.held
    if desired.state != "on":
        return None
    if held is None:
        return Decision(Action.NONE, f"on: {desired.reason}")
    if held.stopped_by != "schedule" and held.stopped_at >= desired.since:
        return Decision(Action.NONE, f"held off by {held.stopped_by} until the next scheduled start")
    return _start(s.service, held, desired.reason)


def _off_and_held(s: Situation) -> Decision | None:
    desired, held, count = s.wish, s.held, s.service.desired_count
    if held is None:
        return None
    if held.status == "stopping" and count > 0:
        return Decision(Action.STOP, f"finishing an interrupted stop ({desired.reason})", restore=held)
    if count > 0:
        return Decision(Action.NONE, f"scaled up by hand while held off; left at {count} until the next start")
    return Decision(Action.NONE, f"held off since {when(held.stopped_at)}")


def _off(s: Situation) -> Decision:
    desired, service = s.wish, s.service
    if s.record is not None and s.record.edge_id == desired.edge_id:
        return Decision(Action.NONE, "this off period was already handled; not fighting a manual change")
    if service.desired_count == 0:
        return Decision(
            Action.MARK,
            f"already at 0 when the off period began; nothing to restore ({desired.reason})",
            edge_id=desired.edge_id,
        )
    restore = RestoreRecord(
        service.desired_count, None, stopped_at=s.now, stopped_by="schedule", edge_id=desired.edge_id
    )
    return Decision(Action.STOP, f"off: {desired.reason}", restore=restore, new_hold=True)


RULES: tuple[Rule, ...] = (_cannot_be_scaled, _kept_awake, _hold_ends, _out_of_schedule, _on, _off_and_held, _off)


def _start(service: ServiceView, held: RestoreRecord, reason: str) -> Decision:
    if held.status == "stopped" and service.desired_count > 0:
        return Decision(
            Action.START,
            f"{reason}; scaled up by hand to {service.desired_count} while off, keeping that count",
            restore=held,
            keep_count=True,
        )
    return Decision(Action.START, reason, restore=held)


def decide_restore(service: ServiceView, held: RestoreRecord, now: datetime, reason: str) -> Decision:
    """Bring a held service back now (`steward restore-all`) as a start edge would, unless it cannot be scaled."""
    situation = Situation(service, None, OffHoursRecord(held.edge_id, held), now, None)
    return _cannot_be_scaled(situation) or _start(service, held, reason)


def in_scope(services: Sequence[ServiceView], records: Mapping[str, OffHoursRecord]) -> list[ServiceView]:
    """The tagged services, plus a 'gone' view for each record whose service or cluster disappeared."""
    views = list(services)
    seen = {view.key for view in views if view.exists}
    for key in records.keys() - seen:
        cluster, _, name = key.partition("/")
        views.append(ServiceView(cluster=cluster, name=name, arn="", desired_count=0, tags={}, exists=False))
    return [view for view in views if view.schedule_name or view.key in records or invalid_tags(view.tags)]


def decide_each(
    services: Sequence[ServiceView],
    schedules: Mapping[str, Schedule],
    records: Mapping[str, OffHoursRecord],
    now: datetime,
) -> list[Verdict]:
    """One decision per service; each schedule is evaluated once."""
    desired_by_schedule = {name: schedule.desired_at(now) for name, schedule in schedules.items()}
    verdicts: list[Verdict] = []
    for service in services:
        name = service.schedule_name
        problem = f"unknown schedule {name!r}" if name and name not in schedules else None
        desired = desired_by_schedule.get(name) if name else None
        decision = decide(service, desired, records.get(service.key), now, problem)
        if decision.action is Action.STOP and name and name in schedules:
            start = schedules[name].next_edge(now, "on")
            decision = replace(decision, back_at=start.at if start else None)
        verdicts.append(Verdict(service, decision, invalid_tags(service.tags, schedules.keys())))
    return verdicts


def only_restores(verdict: Verdict, why_outside: str) -> Verdict:
    """A service this stack holds but that left its scope is only ever brought back, never stopped or marked."""
    if verdict.decision.action is Action.START:
        return verdict
    return replace(verdict, decision=Decision(Action.NONE, f"{why_outside}; held off until its start edge"))
