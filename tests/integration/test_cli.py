"""The `steward` command: plan, invoke, digest, schedules validate — and errors a script can act on."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from devtools.platform import seed_reference_platform

from steward.cli import EXIT_AWS, EXIT_INVALID, EXIT_OK, EXIT_USAGE, main
from steward.handlers import off_hours
from tests.conftest import EVENTS, OFFICE_HOURS, SCHEDULES_PARAMETER


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_schedules_validate_accepts_a_good_document_and_shows_the_next_edge(tmp_path: Path) -> None:
    document = tmp_path / "schedules.json"
    document.write_text(json.dumps(OFFICE_HOURS))

    code, output = run("schedules", "validate", str(document), "--at", "2026-11-27T19:30:00Z")

    assert code == EXIT_OK
    assert "1 schedule(s), valid" in output
    assert "office-hours: off at 2026-11-27T19:30+00:00; next on at 2026-11-30T06:00:00+00:00" in output


def test_schedules_validate_names_the_problem_and_exits_1(tmp_path: Path) -> None:
    document = tmp_path / "schedules.json"
    document.write_text(
        '{"office-hours": {"timezone": "Europe/Berln", "periods": [{"days": "mon-fri", "start": "07:00"}]}}'
    )

    code, output = run("schedules", "validate", str(document))

    assert code == EXIT_INVALID
    assert "unknown IANA timezone 'Europe/Berln'" in output


def test_a_missing_file_and_a_bad_instant_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("schedules", "validate", str(tmp_path / "nope.json"))[0] == EXIT_USAGE
    assert "no such file" in capsys.readouterr().err
    assert run("plan", "off-hours", "--at", "tomorrow")[0] == EXIT_USAGE
    assert "not an ISO-8601 instant" in capsys.readouterr().err


def test_an_unknown_function_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("invoke", "reboot-everything", "--event", "x.json")

    assert code == EXIT_USAGE
    assert "invalid choice: 'reboot-everything'" in capsys.readouterr().err


def test_plan_shows_what_the_next_tick_would_do_and_changes_nothing(aws: None) -> None:
    seed_reference_platform(boto3.session.Session())

    code, output = run("plan", "off-hours", "--at", "2026-11-27T19:00:00Z")

    assert code == EXIT_OK
    assert "8 tagged service(s)" in output
    assert "pyairtable-dev/api-gateway" in output
    lines = [line for line in output.splitlines() if line.startswith("pyairtable-dev/")]
    assert all("  stop  " in line and "stop Fri 2026-11-27 20:00 Europe/Berlin" in line for line in lines)
    desired = boto3.client("ecs").describe_services(cluster="pyairtable-dev", services=["api-gateway"])["services"][0][
        "desiredCount"
    ]
    assert desired == 2


def test_the_plan_is_what_the_tick_then_does(aws: None, lambda_context: Any) -> None:
    # Given the reference platform, one service kept awake through the evening
    seed_reference_platform(boto3.session.Session())
    ecs = boto3.client("ecs")
    arn = ecs.describe_services(cluster="pyairtable-dev", services=["frontend"])["services"][0]["serviceArn"]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "steward:keep-awake-until", "value": "2026-11-27T23:00:00Z"}])

    # When the plan for the evening is asked for, then the evening tick runs
    _, output = run("plan", "off-hours", "--at", "2026-11-27T19:00:00Z")
    result = off_hours.lambda_handler(
        {"source": "steward.scheduler", "task": "off-hours-tick", "now": "2026-11-27T19:00:00Z"}, lambda_context
    )

    # Then the tick stopped exactly what the plan said it would stop, for the reasons it gave
    rows = [re.split(r"\s{2,}", line, maxsplit=2) for line in output.splitlines() if line.startswith("pyairtable-dev/")]
    planned_stops = {service: why for service, action, why in rows if action == "stop"}
    assert {s["service"]: s["reason"] for s in result["stopped"]} == planned_stops
    assert "pyairtable-dev/frontend" not in planned_stops
    assert len(planned_stops) == 7


def test_plan_with_a_broken_schedules_document_says_nothing_would_change_and_exits_1(aws: None) -> None:
    # Given a schedules document naming a timezone that does not exist
    seed_reference_platform(boto3.session.Session())
    document = {"office-hours": {**OFFICE_HOURS["office-hours"], "timezone": "Europe/Berlinn"}}
    boto3.client("ssm").put_parameter(
        Name=SCHEDULES_PARAMETER, Overwrite=True, Type="String", Value=json.dumps(document)
    )

    # When the plan is asked for
    code, output = run("plan", "off-hours", "--at", "2026-11-27T19:00:00Z")

    # Then it names the problem, exits 1 and nothing was stopped
    assert code == EXIT_INVALID
    assert output.startswith("off-hours would change nothing: ")
    assert "Europe/Berlinn" in output
    desired = boto3.client("ecs").describe_services(cluster="pyairtable-dev", services=["api-gateway"])["services"][0][
        "desiredCount"
    ]
    assert desired == 2


def test_invoke_runs_a_handler_with_an_event_file_in_dry_run_by_default(aws: None, slack: Any) -> None:
    seed_reference_platform(boto3.session.Session())

    code, output = run("invoke", "off-hours", "--event", str(EVENTS / "off_hours/Tick--evening.json"))

    assert code == EXIT_OK
    result = json.loads(output)
    assert result["outcome"] == "dry-run"
    assert len(result["stopped"]) == 8
    desired = boto3.client("ecs").describe_services(cluster="pyairtable-dev", services=["api-gateway"])["services"][0][
        "desiredCount"
    ]
    assert desired == 2


def test_invoke_rejects_a_file_that_is_not_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "event.json"
    bad.write_text("{not json")

    assert run("invoke", "off-hours", "--event", str(bad))[0] == EXIT_USAGE
    assert "is not JSON" in capsys.readouterr().err


def test_missing_settings_are_named(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("STATE_TABLE", "SCHEDULES_PARAMETER", "STEWARD_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)

    assert run("plan", "off-hours")[0] == EXIT_USAGE
    error = capsys.readouterr().err
    assert "STATE_TABLE" in error and "--state-table" in error


def test_missing_credentials_exit_3_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)

    code, _ = run(
        "--environment", "dev", "--state-table", "steward-state", "--schedules-parameter", "/p", "plan", "off-hours"
    )

    assert code == EXIT_AWS
    assert "no AWS credentials found" in capsys.readouterr().err
