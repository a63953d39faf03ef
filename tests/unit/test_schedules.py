"""Schedules: on or off at an instant, across weekday ranges, midnight, holidays and daylight-saving nights."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from steward.domain.schedules import Schedule, ScheduleError, parse_days, parse_schedules


def schedule(timezone: str, *periods: dict[str, str], holidays: tuple[str, ...] = ()) -> Schedule:
    document = {"s": {"timezone": timezone, "periods": list(periods), "holidays": list(holidays)}}
    return parse_schedules(document)["s"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def transitions(s: Schedule, start: str, end: str, step_minutes: int = 10) -> list[tuple[str, str]]:
    """Where the desired state changes between consecutive ticks, as (UTC instant of the edge, new state)."""
    changes: list[tuple[str, str]] = []
    now, stop = at(start), at(end)
    previous = s.desired_at(now)
    while now < stop:
        now += timedelta(minutes=step_minutes)
        current = s.desired_at(now)
        if current and (previous is None or current.state != previous.state):
            changes.append((current.since.strftime("%Y-%m-%dT%H:%MZ"), current.state))
        previous = current
    return changes


# ---------------------------------------------------------------------------------------------- days


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("sat,sun", {5, 6}),
        ("fri-mon", {4, 5, 6, 0}),
        ("Mon", {0}),
        ("daily", set(range(7))),
        ("mon,wed-thu", {0, 2, 3}),
    ],
)
def test_day_lists_read_as_people_write_them(text: str, days: set[int]) -> None:
    assert parse_days(text) == days


# ---------------------------------------------------------------------------------------------- office hours


def test_office_hours_are_on_inside_and_off_outside() -> None:
    office = schedule("Europe/Berlin", {"days": "mon-fri", "start": "07:00", "stop": "20:00"})
    # Friday 2026-11-27, Berlin is UTC+1.
    assert office.desired_at(at("2026-11-27T05:59:00Z")).state == "off"
    assert office.desired_at(at("2026-11-27T06:00:00Z")).state == "on"  # start is inclusive
    assert office.desired_at(at("2026-11-27T18:59:00Z")).state == "on"
    assert office.desired_at(at("2026-11-27T19:00:00Z")).state == "off"  # stop is exclusive
    assert office.desired_at(at("2026-11-28T12:00:00Z")).state == "off"  # Saturday


def test_the_edge_that_set_the_state_is_named_stably_for_the_whole_period() -> None:
    office = schedule("Europe/Berlin", {"days": "mon-fri", "start": "07:00", "stop": "20:00"})
    evening, night = office.desired_at(at("2026-11-27T19:00:00Z")), office.desired_at(at("2026-11-29T03:00:00Z"))
    assert evening.edge_id == night.edge_id
    assert "stop 2026-11-27T19:00Z (Fri 20:00 Europe/Berlin)" in evening.reason


def test_a_local_weekday_that_differs_from_the_utc_weekday() -> None:
    # Monday 07:00 in Sydney (UTC+11 in November) is Sunday 20:00 UTC.
    sydney = schedule("Australia/Sydney", {"days": "mon", "start": "07:00", "stop": "19:00"})
    assert sydney.desired_at(at("2026-11-29T19:59:00Z")).state == "off"
    assert sydney.desired_at(at("2026-11-29T20:00:00Z")).state == "on"
    assert transitions(sydney, "2026-11-29T00:00:00Z", "2026-11-30T12:00:00Z") == [
        ("2026-11-29T20:00Z", "on"),
        ("2026-11-30T08:00Z", "off"),
    ]


def test_a_period_crossing_midnight_belongs_to_the_day_it_starts() -> None:
    night = schedule("UTC", {"days": "fri", "start": "22:00", "stop": "02:00"})
    assert night.desired_at(at("2026-11-27T21:59:00Z")).state == "off"
    assert night.desired_at(at("2026-11-28T01:00:00Z")).state == "on"  # Saturday 01:00, started Friday
    assert night.desired_at(at("2026-11-28T02:00:00Z")).state == "off"
    assert night.desired_at(at("2026-11-29T01:00:00Z")).state == "off"  # Sunday 01:00: Saturday has no period


def test_adjacent_periods_that_meet_at_midnight_do_not_blip() -> None:
    weekend = schedule(
        "Europe/Berlin",
        {"days": "fri", "start": "18:00", "stop": "24:00"},
        {"days": "sat", "start": "00:00", "stop": "06:00"},
    )
    assert transitions(weekend, "2026-11-27T12:00:00Z", "2026-11-28T12:00:00Z", step_minutes=5) == [
        ("2026-11-27T17:00Z", "on"),
        ("2026-11-28T05:00Z", "off"),
    ]


def test_start_only_and_stop_only_periods_act_only_at_their_edge() -> None:
    start_only = schedule("UTC", {"days": "mon-fri", "start": "07:00"})
    stop_only = schedule("UTC", {"days": "mon-fri", "stop": "20:00"})
    # Saturday night: the last edge of start_only is Friday's start; nothing ever turns it off.
    assert start_only.desired_at(at("2026-11-28T23:00:00Z")).state == "on"
    assert stop_only.desired_at(at("2026-11-30T10:00:00Z")).state == "off"  # Monday morning: no start edge
    monday_evening = stop_only.desired_at(at("2026-11-23T20:10:00Z"))
    assert (monday_evening.state, monday_evening.since) == ("off", at("2026-11-23T20:00:00Z"))
    assert stop_only.desired_at(at("2026-11-23T19:50:00Z")).since == at("2026-11-20T20:00:00Z")  # Friday's edge


def test_a_holiday_is_off_all_day_and_the_next_working_day_starts_normally() -> None:
    office = schedule("Europe/Berlin", {"days": "mon-fri", "start": "07:00", "stop": "20:00"}, holidays=("2026-12-24",))
    assert office.desired_at(at("2026-12-23T10:00:00Z")).state == "on"
    assert office.desired_at(at("2026-12-24T10:00:00Z")).state == "off"
    assert office.desired_at(at("2026-12-25T10:00:00Z")).state == "on"
    assert transitions(office, "2026-12-23T00:00:00Z", "2026-12-26T00:00:00Z") == [
        ("2026-12-23T06:00Z", "on"),
        ("2026-12-23T19:00Z", "off"),
        ("2026-12-25T06:00Z", "on"),
        ("2026-12-25T19:00Z", "off"),
    ]


# ---------------------------------------------------------------------------------------------- daylight saving


def test_berlin_spring_forward_night_has_no_missed_or_doubled_transition() -> None:
    # 2026-03-29 02:00 CET → 03:00 CEST: 02:30 does not exist that night.
    s = schedule("Europe/Berlin", {"days": "daily", "start": "02:30", "stop": "06:00"})
    assert transitions(s, "2026-03-28T00:00:00Z", "2026-03-30T00:00:00Z") == [
        ("2026-03-28T01:30Z", "on"),  # 02:30 CET
        ("2026-03-28T05:00Z", "off"),  # 06:00 CET
        ("2026-03-29T01:30Z", "on"),  # 02:30 falls in the gap: it happens at 03:30 CEST
        ("2026-03-29T04:00Z", "off"),  # 06:00 CEST
    ]


def test_berlin_fall_back_night_runs_the_repeated_hour_once() -> None:
    # 2026-10-25 03:00 CEST → 02:00 CET: 02:30 happens twice; the schedule acts on its first occurrence only.
    s = schedule("Europe/Berlin", {"days": "daily", "start": "02:30", "stop": "07:00"})
    assert transitions(s, "2026-10-24T00:00:00Z", "2026-10-26T00:00:00Z") == [
        ("2026-10-24T00:30Z", "on"),
        ("2026-10-24T05:00Z", "off"),
        ("2026-10-25T00:30Z", "on"),  # 02:30 CEST, not again at 02:30 CET
        ("2026-10-25T06:00Z", "off"),  # 07:00 CET
    ]


def test_office_hours_across_both_berlin_changes_keep_local_times() -> None:
    office = schedule("Europe/Berlin", {"days": "mon-fri", "start": "07:00", "stop": "20:00"})
    # Friday before and Monday after each change: the UTC instants move by an hour, the local times do not.
    assert transitions(office, "2026-03-27T00:00:00Z", "2026-03-31T00:00:00Z") == [
        ("2026-03-27T06:00Z", "on"),
        ("2026-03-27T19:00Z", "off"),
        ("2026-03-30T05:00Z", "on"),
        ("2026-03-30T18:00Z", "off"),
    ]
    assert transitions(office, "2026-10-23T00:00:00Z", "2026-10-27T00:00:00Z") == [
        ("2026-10-23T05:00Z", "on"),
        ("2026-10-23T18:00Z", "off"),
        ("2026-10-26T06:00Z", "on"),
        ("2026-10-26T19:00Z", "off"),
    ]


def test_new_york_spring_forward_and_fall_back() -> None:
    s = schedule("America/New_York", {"days": "daily", "start": "01:30", "stop": "02:30"})
    # 2026-03-08 02:00 EST → 03:00 EDT: 02:30 is in the gap and happens at 03:30 EDT (07:30Z).
    assert transitions(s, "2026-03-07T00:00:00Z", "2026-03-09T00:00:00Z") == [
        ("2026-03-07T06:30Z", "on"),
        ("2026-03-07T07:30Z", "off"),
        ("2026-03-08T06:30Z", "on"),
        ("2026-03-08T07:30Z", "off"),
    ]
    # 2026-11-01 02:00 EDT → 01:00 EST: 01:30 happens twice; on once, at the first.
    assert transitions(s, "2026-10-31T00:00:00Z", "2026-11-02T00:00:00Z") == [
        ("2026-10-31T05:30Z", "on"),
        ("2026-10-31T06:30Z", "off"),
        ("2026-11-01T05:30Z", "on"),
        ("2026-11-01T07:30Z", "off"),
    ]


# ---------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not JSON"),
        ("[]", "non-empty JSON object"),
        ({"x": {"timezone": "Mars/Olympus", "periods": [{"days": "mon", "start": "07:00"}]}}, "unknown IANA timezone"),
        ({"x": {"timezone": "UTC", "periods": [{"days": "weekdays", "start": "07:00"}]}}, "not a day list"),
        ({"x": {"timezone": "UTC", "periods": [{"days": "mon", "start": "7am"}]}}, "not a time like"),
        ({"x": {"timezone": "UTC", "periods": [{"days": "mon", "start": "25:00"}]}}, "not a time of day"),
        ({"x": {"timezone": "UTC", "periods": [{"days": "mon"}]}}, "needs a start, a stop, or both"),
        ({"x": {"timezone": "UTC", "periods": [{"days": "mon", "start": "07:00", "stop": "07:00"}]}}, "would be empty"),
        ({"x": {"timezone": "UTC", "periods": []}}, "at least 1 item"),
        (
            {"x": {"timezone": "UTC", "periods": [{"days": "mon", "start": "07:00"}], "holidays": ["24.12."]}},
            "x.holidays.0",
        ),
        ({"x": {"timezone": "UTC", "periods": [{"days": "mon", "start": "07:00", "strat": "x"}]}}, "Extra inputs"),
    ],
)
def test_a_broken_document_is_rejected_with_a_specific_reason(document: Any, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_schedules(document)


def test_every_problem_is_reported_at_once() -> None:
    document = {
        "a": {"timezone": "Nowhere/Land", "periods": [{"days": "mon", "start": "07:00"}]},
        "b": {"timezone": "UTC", "periods": [{"days": "funday", "start": "07:00"}]},
    }
    with pytest.raises(ScheduleError) as raised:
        parse_schedules(document)
    assert "a.timezone" in str(raised.value)
    assert "b.periods.0" in str(raised.value)


def test_desired_state_is_computed_from_the_injected_instant_not_the_clock() -> None:
    office = schedule("Europe/Berlin", {"days": "mon-fri", "start": "07:00", "stop": "20:00"})
    old = office.desired_at(datetime(2020, 1, 6, 7, 0, tzinfo=UTC))  # a Monday in 2020, 08:00 Berlin
    assert old.state == "on"
    assert old.since == datetime(2020, 1, 6, 6, 0, tzinfo=UTC)
