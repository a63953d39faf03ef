"""The pause switch: one SSM parameter (`steward pause` / `steward resume`, or put-parameter) that stops Steward from
stopping or starting anything, with no redeploy. Alerts go on; the first tick after a resume catches up."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from devtools.platform import seed_reference_platform, service_sizes
from hypothesis import given
from hypothesis import strategies as st

from steward.cli import EXIT_OK, EXIT_USAGE, main
from steward.domain.pause import read_pause
from steward.handlers import budget_alert, off_hours
from tests.conftest import PAUSE_PARAMETER, load_event

EVENING = {"source": "steward.scheduler", "task": "off-hours-tick", "now": "2026-11-27T19:00:00Z"}
LATER = {"source": "steward.scheduler", "task": "off-hours-tick", "now": "2026-11-27T19:10:00Z"}
NOW = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)


def switch(value: str) -> None:
    boto3.client("ssm").put_parameter(Name=PAUSE_PARAMETER, Value=value, Type="String", Overwrite=True)


def forget() -> None:
    """A new container: the switch is read afresh (it is cached for a minute per container)."""
    from steward.adapters.pause import forget_reads

    forget_reads()


@pytest.fixture
def platform(aws: None) -> dict[str, dict[str, Any]]:
    seed_reference_platform(boto3.session.Session())
    return service_sizes(boto3.session.Session())


def test_a_paused_steward_stops_nothing_says_so_once_and_catches_up_after_resume(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: Any
) -> None:
    # Given the switch is on
    switch("on")

    # When the evening's ticks run
    first = off_hours.lambda_handler(EVENING, lambda_context)
    forget()
    off_hours.lambda_handler(LATER, lambda_context)

    # Then nothing is stopped, the result says paused, and Slack heard it once, with the command that resumes
    assert service_sizes(boto3.session.Session()) == platform
    assert first == {"outcome": "paused", "reason": "paused until the switch is turned off", "held_back": "off-hours"}
    [message] = slack.messages
    assert "is paused" in message.text
    assert f"--name {PAUSE_PARAMETER} --type String --overwrite --value off" in str(message.blocks)

    # When the switch is turned off, the next tick of the same off period catches up
    switch("off")
    forget()
    off_hours.lambda_handler(LATER, lambda_context)
    assert service_sizes(boto3.session.Session())["api-gateway"]["desired"] == 0


def test_a_pause_until_an_instant_ends_by_itself(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: Any
) -> None:
    switch("2026-11-27T19:05:00Z")

    assert off_hours.lambda_handler(EVENING, lambda_context)["outcome"] == "paused"
    forget()
    off_hours.lambda_handler(LATER, lambda_context)  # 19:10, after the pause

    assert service_sizes(boto3.session.Session())["api-gateway"]["desired"] == 0


def test_an_unreadable_switch_pauses_and_says_why(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: Any
) -> None:
    switch("tomorrow")

    result = off_hours.lambda_handler(EVENING, lambda_context)

    assert result["outcome"] == "paused"
    assert "unreadable" in result["reason"] and "'tomorrow'" in result["reason"]
    assert service_sizes(boto3.session.Session()) == platform


def test_the_switch_is_read_at_most_once_a_minute_per_container(
    platform: dict[str, dict[str, Any]], lambda_context: Any, aws_calls: list[str]
) -> None:
    switch("off")

    off_hours.lambda_handler(EVENING, lambda_context)
    off_hours.lambda_handler(LATER, lambda_context)  # the same container, within a minute

    assert aws_calls.count("ssm.GetParameter") == 1 + 2  # the switch once, the schedules document every tick


def test_no_switch_parameter_means_steward_runs(platform: dict[str, dict[str, Any]], lambda_context: Any) -> None:
    # Given a stack whose pause parameter does not exist (yet)
    off_hours.lambda_handler(EVENING, lambda_context)

    assert service_sizes(boto3.session.Session())["api-gateway"]["desired"] == 0


def test_a_paused_steward_still_alerts_on_a_budget_but_stops_nothing(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a budget with a stop action, and the switch on
    monkeypatch.setenv("BUDGET_ACTIONS", '{"dev-monthly": {"action": "stop", "selector": {"env": "dev"}}}')
    switch("on")

    # When the budget reaches 100 %
    result = budget_alert.lambda_handler(
        load_event("budget_alert/BudgetNotification--monthly-actual-100.json"), lambda_context
    )

    # Then the alert is posted, nothing is stopped, and it says why
    [record] = result["records"]
    assert record["outcome"] == "alerted"
    assert record["stopped"] == []
    assert service_sizes(boto3.session.Session()) == platform
    assert any("paused" in str(message.blocks) for message in slack.messages)


def test_steward_pause_and_resume_set_the_switch(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()

    assert main(["pause", "--until", "12h"], out=out) == EXIT_OK
    value = boto3.client("ssm").get_parameter(Name=PAUSE_PARAMETER)["Parameter"]["Value"]
    assert read_pause(value, datetime.now(UTC)) is not None and value.endswith("Z")

    assert main(["resume"], out=out) == EXIT_OK
    assert boto3.client("ssm").get_parameter(Name=PAUSE_PARAMETER)["Parameter"]["Value"] == "off"
    assert "resumed" in out.getvalue()


def test_steward_pause_without_a_parameter_is_a_usage_error(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PAUSE_PARAMETER")

    assert main(["pause"], out=io.StringIO()) == EXIT_USAGE
    assert "--pause-parameter" in capsys.readouterr().err


@given(st.sampled_from(["on", "true", "yes"]), st.booleans())
def test_every_on_word_pauses_in_any_case(word: str, upper: bool) -> None:
    assert read_pause(word.upper() if upper else word, NOW) is not None


@given(st.sampled_from(["off", "false", "no", " OFF "]))
def test_every_off_word_runs(word: str) -> None:
    assert read_pause(word, NOW) is None


def test_a_pause_that_has_ended_runs_and_one_without_a_zone_pauses_as_unreadable() -> None:
    assert read_pause("2026-11-27T18:00:00Z", NOW) is None
    unreadable = read_pause("2026-11-27T20:00:00", NOW)
    assert unreadable is not None and unreadable.problem
