"""Named schedules (SPEC §3) and the one question asked of them: should a service be on or off at this instant?

A schedule is a set of edges in local wall-clock time: each period contributes a start edge (on) and/or a stop edge
(off) on each of its days; each holiday contributes an off edge at its local midnight and suppresses the edges that
fall on it. The desired state at an instant is the most recent edge at or before it. That one rule gives:

- periods crossing midnight (the stop edge falls on the next day),
- one-sided periods (a start-only period never turns anything off, and vice versa),
- adjacent periods meeting at midnight without a blip (an on edge wins a tie with an off edge),
- daylight-saving days without a missed or doubled transition: each edge is one local date and time, turned into
  one UTC instant by zoneinfo (a wall time inside the spring-forward gap happens as far after the jump as it was
  into the gap, 02:30 → 03:30; one inside the repeated autumn hour happens at its first occurrence).
"""

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from msgspec import Struct
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LOOKBACK_DAYS = 8  # one full week plus the day a midnight-crossing period started on

State = Literal["on", "off"]


class ScheduleError(ValueError):
    """The schedules document is unusable; the message lists every problem."""


def parse_days(text: str) -> frozenset[int]:
    """'mon-fri' → {0..4}; 'sat,sun'; 'fri-mon' wraps → {4,5,6,0}; 'daily' → all seven."""
    spec = text.strip().lower()
    if spec in ("daily", "*", "mon-sun"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in spec.split(","):
        first, dash, last = part.strip().partition("-")
        if first not in WEEKDAYS or (dash and last not in WEEKDAYS):
            raise ValueError(f"{text!r} is not a day list like 'mon-fri' or 'sat,sun'")
        begin = WEEKDAYS.index(first)
        end = WEEKDAYS.index(last) if dash else begin
        days.update((begin + offset) % 7 for offset in range((end - begin) % 7 + 1))
    return frozenset(days)


def parse_clock(text: str, *, allow_end_of_day: bool) -> time | None:
    """'07:00' → time(7); '24:00' (stop only) → None, meaning the end of the day."""
    hours, colon, minutes = text.strip().partition(":")
    if not (colon and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"{text!r} is not a time like '07:00'")
    if (int(hours), int(minutes)) == (24, 0) and allow_end_of_day:
        return None
    if not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59):
        raise ValueError(f"{text!r} is not a time of day")
    return time(int(hours), int(minutes))


class PeriodDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    days: str
    start: str | None = None
    stop: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        parse_days(self.days)
        if self.start is None and self.stop is None:
            raise ValueError("a period needs a start, a stop, or both")
        if self.start is not None:
            parse_clock(self.start, allow_end_of_day=False)
        if self.stop is not None:
            parse_clock(self.stop, allow_end_of_day=True)
        if self.start is not None and self.start == self.stop:
            raise ValueError(f"start and stop are both {self.start}: the period would be empty")
        return self


class ScheduleDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    timezone: str
    periods: list[PeriodDocument] = Field(min_length=1, max_length=50)
    holidays: list[date] = Field(default_factory=list, max_length=400)
    description: str = ""
    # Databases of this schedule start this long before its start edges: an RDS start takes minutes.
    database_lead_minutes: int = Field(default=15, ge=0, le=240)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown IANA timezone {value!r}") from error
        return value


class Period(Struct, frozen=True):
    days: frozenset[int]
    start: time | None
    stop: time | None
    stop_is_end_of_day: bool = False


class Edge(Struct, frozen=True):
    at: datetime  # UTC
    state: State
    local: str  # for reasons: "stop 2026-11-27T19:00Z (Fri 20:00 Europe/Berlin)"


class Desired(Struct, frozen=True):
    state: State
    since: datetime  # the edge that set it, UTC
    edge_id: str  # stable name of that edge, to remember which edges were already acted on
    reason: str


class Schedule(Struct, frozen=True):
    name: str
    timezone: ZoneInfo
    periods: tuple[Period, ...]
    holidays: frozenset[date]
    database_lead: timedelta = timedelta(minutes=15)

    def edges(self, around: datetime, days_ahead: int = 1) -> list[Edge]:
        """Every edge from LOOKBACK_DAYS before `around` to `days_ahead` days after it, in time order."""
        local_today = around.astimezone(self.timezone).date()
        edges: list[Edge] = []
        for offset in range(-LOOKBACK_DAYS, days_ahead + 1):
            day = local_today + timedelta(days=offset)
            if day in self.holidays:
                edges.append(self._edge(day, time(0), "off", "holiday"))
                continue
            for period in self.periods:
                if day.weekday() not in period.days:
                    continue
                if period.start is not None:
                    edges.append(self._edge(day, period.start, "on", "start"))
                if period.stop is not None or period.stop_is_end_of_day:
                    stop_day, stop_time = self._stop_of(day, period)
                    if stop_day not in self.holidays:
                        edges.append(self._edge(stop_day, stop_time, "off", "stop"))
        # An on edge wins a tie with an off edge: periods that meet at midnight do not blip.
        return sorted(set(edges), key=lambda edge: (edge.at, edge.state == "on"))

    @staticmethod
    def _stop_of(day: date, period: Period) -> tuple[date, time]:
        if period.stop_is_end_of_day:
            return day + timedelta(days=1), time(0)
        assert period.stop is not None
        crosses_midnight = period.start is not None and period.stop <= period.start
        return (day + timedelta(days=1) if crosses_midnight else day), period.stop

    def _edge(self, day: date, clock: time, state: State, kind: str) -> Edge:
        local = datetime.combine(day, clock, tzinfo=self.timezone)
        at = local.astimezone(UTC)
        # Instants read in one format everywhere (UTC, to the minute, with a Z); the schedule's own wall clock follows.
        label = f"{kind} {at.strftime('%Y-%m-%dT%H:%MZ')} ({local.strftime('%a %H:%M')} {self.timezone.key})"
        return Edge(at=at, state=state, local=label)

    def desired_at(self, now: datetime) -> Desired | None:
        """The state the schedule asks for at `now`, and the edge that asked for it (None: no edge in a week)."""
        past = [edge for edge in self.edges(now) if edge.at <= now]
        if not past:
            return None
        last = past[-1]
        edge_id = f"{self.name}@{last.at.isoformat()}"
        return Desired(state=last.state, since=last.at, edge_id=edge_id, reason=f"schedule {self.name}: {last.local}")

    def next_edge(self, now: datetime, state: State) -> Edge | None:
        upcoming = [edge for edge in self.edges(now, days_ahead=LOOKBACK_DAYS) if edge.at > now and edge.state == state]
        return upcoming[0] if upcoming else None


def schedule_from(name: str, document: ScheduleDocument) -> Schedule:
    periods = []
    for period in document.periods:
        stop = parse_clock(period.stop, allow_end_of_day=True) if period.stop is not None else None
        periods.append(
            Period(
                days=parse_days(period.days),
                start=parse_clock(period.start, allow_end_of_day=False) if period.start is not None else None,
                stop=stop,
                stop_is_end_of_day=period.stop is not None and stop is None,
            )
        )
    return Schedule(
        name=name,
        timezone=ZoneInfo(document.timezone),
        periods=tuple(periods),
        holidays=frozenset(document.holidays),
        database_lead=timedelta(minutes=document.database_lead_minutes),
    )


def parse_schedules(document: str | Mapping[str, Any]) -> dict[str, Schedule]:
    """The schedules document (JSON text or an already-decoded mapping) → named schedules, or ScheduleError."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as error:
            raise ScheduleError(f"schedules document is not JSON: {error.msg} at line {error.lineno}") from None
    if not isinstance(document, Mapping) or not document:
        raise ScheduleError("schedules document must be a non-empty JSON object of schedule name to schedule")
    schedules: dict[str, Schedule] = {}
    problems: list[str] = []
    for name, body in document.items():
        try:
            schedules[name] = schedule_from(name, ScheduleDocument.model_validate(body))
        except ValidationError as error:
            for issue in error.errors():
                location = ".".join(str(part) for part in issue["loc"])
                problems.append(f"{name}{'.' + location if location else ''}: {issue['msg']}")
    if problems:
        raise ScheduleError("schedules document is invalid: " + "; ".join(problems))
    return schedules
