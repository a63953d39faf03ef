"""The off-hours tick's metrics through the real handler under moto: a count is sent only when something happened
(CloudWatch bills a custom metric for the hours it receives data), and an idle tick says so in its log line and its
result, not in a metric."""

from __future__ import annotations

import logging
from typing import Any

import boto3
import pytest
from devtools.platform import seed_databases, seed_reference_platform

from steward.handlers import off_hours
from tests.conftest import emitted_metrics

COUNTS = (
    "ServicesStopped",
    "ServicesStarted",
    "ServicesSkipped",
    "ServicesFailed",
    "DatabasesStopped",
    "DatabasesStarted",
    "DatabasesFailed",
)


def tick(now: str, context: Any) -> dict[str, Any]:
    return off_hours.lambda_handler({"source": "steward.scheduler", "task": "off-hours-tick", "now": now}, context)


@pytest.fixture
def platform(aws: None) -> None:
    seed_reference_platform(boto3.session.Session())
    seed_databases(boto3.session.Session())


def test_a_full_reconcile_that_changes_nothing_sends_no_zero_counts(
    platform: None, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the platform running at midday, inside office hours
    capsys.readouterr()

    # When a full reconcile runs and nothing is due
    result = tick("2026-11-27T11:00:00Z", lambda_context)

    # Then it changed nothing and sent no count that would be zero
    assert result["outcome"] == "ok" and result["changed"] == 0, result
    sent = emitted_metrics(capsys.readouterr().out)
    zeros = {name: value for name, value in sent.items() if name in COUNTS and value == 0}
    assert not zeros, f"zero counts sent: {zeros}"
    assert "ServicesStopped" not in sent and "DatabasesStopped" not in sent


def test_the_evening_stop_sends_the_counts_of_what_it_stopped(
    platform: None, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the platform running before the evening edge
    tick("2026-11-27T17:00:00Z", lambda_context)
    capsys.readouterr()

    # When the off edge comes
    result = tick("2026-11-27T19:00:00Z", lambda_context)

    # Then the stop is counted, and only what happened is
    sent = emitted_metrics(capsys.readouterr().out)
    assert sent["ServicesStopped"] == len(result["stopped"]) > 0
    assert "ServicesStarted" not in sent and "ServicesFailed" not in sent


def test_an_idle_tick_is_a_log_field_and_a_result_not_a_metric(
    platform: None, lambda_context: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a full reconcile at midday, with nothing due before the evening's heads-up
    tick("2026-11-27T11:00:00Z", lambda_context)
    capsys.readouterr()
    caplog.clear()

    # When the next tick comes
    with caplog.at_level(logging.INFO):
        result = tick("2026-11-27T11:10:00Z", lambda_context)

    # Then the result and an INFO log line say it was idle and why, and no metric is sent
    assert result["outcome"] == "idle" and result["reason"]
    idle = [record for record in caplog.records if record.getMessage() == "idle tick"]
    assert len(idle) == 1 and idle[0].levelno == logging.INFO
    assert getattr(idle[0], "outcome", None) == "idle" and getattr(idle[0], "reason", None) == result["reason"]
    assert emitted_metrics(capsys.readouterr().out) == {}
