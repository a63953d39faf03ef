"""Before and after an edge: which services the next off edge will stop (for a heads-up a while before it), and
which services a start restored that have not come back (too few tasks running some minutes later)."""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from msgspec import Struct

from steward.domain.off_hours import Action, decide_each
from steward.domain.schedules import Edge, Schedule
from steward.domain.services import KeptOff, ServiceView


class HeadsUp(Struct, frozen=True):
    """The services a schedule's next off edge will stop, if nothing changes before it."""

    schedule: str
    edge: Edge
    back_at: datetime | None  # the schedule's next start after the edge
    services: tuple[ServiceView, ...]


class NotBack(Struct, frozen=True):
    """A service a start restored that still runs fewer tasks than it should."""

    service: ServiceView
    restored_at: datetime
    expected: int


def upcoming_stops(
    views: Sequence[ServiceView], schedules: Mapping[str, Schedule], now: datetime, lead: timedelta
) -> list[HeadsUp]:
    """For each schedule whose next off edge falls within `lead`: what a tick at that edge would stop, decided by the
    tick's own rules (keep-awake, protection, already at zero) on what ECS says now."""
    heads_ups = []
    for name, schedule in schedules.items():
        edge = schedule.next_edge(now, "off")
        if edge is None or edge.at > now + lead:
            continue
        members = [view for view in views if view.schedule_name == name]
        stopping = [
            v.service for v in decide_each(members, {name: schedule}, {}, edge.at) if v.decision.action is Action.STOP
        ]
        if stopping:
            start = schedule.next_edge(edge.at, "on")
            heads_ups.append(HeadsUp(name, edge, start.at if start else None, tuple(stopping)))
    return heads_ups


def not_back(restored: Sequence[KeptOff], views: Mapping[str, ServiceView]) -> list[NotBack]:
    """Each restored service that runs fewer tasks than it was restored to (and than it wants now)."""
    found = []
    for hold in restored:
        view = views.get(hold.service)
        if view is None or not view.exists:
            continue
        expected = min(hold.tasks, view.desired_count)
        if view.running_count < expected:
            found.append(NotBack(view, hold.end, expected))
    return found
