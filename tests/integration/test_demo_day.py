"""The demo's day, end to end against a real local moto server (AWS_ENDPOINT_URL) and the Slack stand-in:
the final AWS state and the Slack messages a team would have read. ECS runs through the EcsOverlay, as in the demo."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator

import pytest
from devtools.demo import DayResult, run_day

pytestmark = pytest.mark.long_running


class Everything(logging.Handler):
    """Keeps every log record whole (message, extra fields, exception) as text."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.dumps(record.__dict__, default=str))


LOGS = Everything()


@pytest.fixture(scope="module")
def day() -> Iterator[DayResult]:
    from steward.observability import logger

    saved = dict(os.environ)
    watched = [logging.getLogger(), logging.getLogger(logger.name)]
    for target in watched:
        target.addHandler(LOGS)
    try:
        yield run_day()
    finally:
        for target in watched:
            target.removeHandler(LOGS)
        os.environ.clear()
        os.environ.update(saved)


def test_every_service_ends_the_day_exactly_as_it_started(day: DayResult) -> None:
    assert day.not_restored == {}
    assert day.back_on_spot
    assert len(day.team2_morning) == 8 and day.team2_evening == day.team2_morning  # the second account's too


def test_the_organisation_view_reads_both_accounts_at_the_evening(day: DayResult) -> None:
    # Given pyairtable-dev's account (the management account) and team2-dev's, each with its own Steward stack
    # When `steward org status` runs from the management account after both evening ticks
    line = next(line for line in day.lines if "steward org status" in line)

    # Then each account's holds are shown, read through its org read role, and none is left unread
    assert line.endswith("2 accounts read (pyairtable-dev: 6 held, 1 DBs; team2-dev: 8 held, 0 DBs), 0 not read")


def test_the_platforms_databases_end_up_and_the_one_on_its_holiday_week_stays_stopped_after_awss_start(
    day: DayResult,
) -> None:
    assert day.databases == {
        "instance/pyairtable-dev-db": "available",
        "instance/pyairtable-dev-aurora-1": "available",
        "cluster/pyairtable-dev-aurora": "available",
        "instance/pyairtable-dev-reports": "stopped",
    }
    assert any(line.endswith("databases stopped: pyairtable-dev-reports, started: none") for line in day.lines[-1:])


def test_the_team_reads_each_thing_that_happened_once(day: DayResult) -> None:
    firsts = [message.text.splitlines()[0] for message in day.messages]
    expected_starts = [
        "Deployment completed: pyairtable-dev/api-gateway",
        "Deployment started: pyairtable-dev/api-gateway",
        "Deployment completed: pyairtable-dev/api-gateway",
        "Spot fallback: llm-orchestrator moved to on-demand",
        "Rolled back pyairtable-dev/api-gateway",
        "Spot fallback over: llm-orchestrator back on Spot",
        "Budget dev-monthly: 80.0 % threshold (ACTUAL)",
        "Off-hours: stopped 6, started 0",
        "Budget dev-monthly: 100.0 % threshold (ACTUAL)",
        "Off-hours: stopped 1, started 0",
        "Off-hours: stopped 0, started 7",
        "Off-hours: stopped 0, started 1",
        "Cost digest — dev — Mon 2026-11-30 (UTC)",
    ]
    cursor = 0
    for first in firsts:
        if cursor < len(expected_starts) and first.startswith(expected_starts[cursor]):
            cursor += 1
    assert cursor == len(expected_starts), (
        f"missing or out of order after {expected_starts[cursor - 1] if cursor else 'start'}: {firsts}"
    )
    assert sum(1 for text in firsts if text.startswith("Spot fallback: ")) == 1
    assert sum(1 for text in firsts if text.startswith("Rolled back")) == 1


def test_the_slack_token_never_appears_in_a_message_or_a_log_line(day: DayResult) -> None:
    assert all("xoxb-demo-token" not in str(message.body) for message in day.messages)
    assert len(LOGS.lines) > 20  # the day was logged…
    assert not [line for line in LOGS.lines if "xoxb-demo-token" in line]  # …and the token never was


def test_the_digest_prices_what_was_kept_off_and_what_ran_on_spot(day: DayResult) -> None:
    digest = next(m for m in day.messages if m.text.startswith("Cost digest"))
    saved = next(
        b["text"]["text"] for b in digest.blocks if b.get("text", {}).get("text", "").startswith("*Saved yesterday*")
    )
    assert "task-hours kept off by off-hours and budget actions" in saved
    assert "task-hours on Fargate Spot, not on-demand" in saved
