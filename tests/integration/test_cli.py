"""The `steward` command: status, history, restore-all, plan, invoke, digest, schedules validate — and errors a
script can act on (0 done, 1 not done or invalid, 2 usage or an event the function does not accept, 3 AWS)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from devtools.ecs_overlay import EcsOverlay
from devtools.platform import CLUSTER, ServiceSpec, create_service, seed_reference_platform, service_sizes
from devtools.template import ROOT, create_state_table

from steward.adapters.ecs import Ecs
from steward.cli import EXIT_AWS, EXIT_INVALID, EXIT_OK, EXIT_USAGE, _since, main
from steward.handlers import budget_alert, off_hours, spot_fallback
from steward.runtime import shared_aws
from tests.conftest import EVENTS, OFFICE_HOURS, SCHEDULES_PARAMETER, STATE_TABLE, load_event

EVENING = {"source": "steward.scheduler", "task": "off-hours-tick", "now": "2026-11-27T19:00:00Z"}
LATER_THAT_EVENING = {"source": "steward.scheduler", "task": "off-hours-tick", "now": "2026-11-27T21:00:00Z"}
MONDAY_MORNING = {"source": "steward.scheduler", "task": "off-hours-tick", "now": "2026-11-30T06:00:00Z"}
BEFORE = {  # the reference platform: desired count, and (min, max, suspended) of its scalable target
    "api-gateway": {"desired": 2, "target": (2, 8, False)},
    "airtable-gateway": {"desired": 1, "target": (1, 4, False)},
    "mcp-server": {"desired": 1, "target": None},
    "llm-orchestrator": {"desired": 2, "target": (1, 6, False)},
    "platform-services": {"desired": 2, "target": (2, 4, False)},
    "automation-services": {"desired": 1, "target": None},
    "saga-orchestrator": {"desired": 1, "target": None},
    "frontend": {"desired": 2, "target": (2, 4, False)},
}
SPOT_BASE = [{"capacityProvider": "FARGATE_SPOT", "base": 2, "weight": 1}, {"capacityProvider": "FARGATE", "weight": 1}]


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def sizes() -> dict[str, dict[str, Any]]:
    return service_sizes(boto3.session.Session())


def hold_records() -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=STATE_TABLE)["Items"]
    return [item for item in items if item["sk"]["S"] == "off-hours" and "desired_count" in item]


def no_internals(text: str) -> None:
    """What a person sees: no traceback, no class name of Steward's or botocore's."""
    for word in ("Traceback", "Error:", "Exception:", "StateUnavailable", "ClientError", "Settings is", "Settings:"):
        assert word not in text, text


@pytest.fixture
def platform(aws: None) -> None:
    seed_reference_platform(boto3.session.Session())


# ------------------------------------------------------------------------------------------ schedules, plan


def test_schedules_validate_accepts_a_good_document_and_shows_the_next_edge_in_utc(tmp_path: Path) -> None:
    document = tmp_path / "schedules.json"
    document.write_text(json.dumps(OFFICE_HOURS))

    code, output = run("schedules", "validate", str(document), "--at", "2026-11-27T19:30:00Z")

    assert code == EXIT_OK
    assert "1 schedule(s), valid" in output
    assert "office-hours: off at 2026-11-27T19:30:00Z; next on at 2026-11-30T06:00:00Z" in output


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


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("--version")

    assert code == EXIT_OK
    assert re.fullmatch(r"steward \d+\.\d+\.\d+\n", capsys.readouterr().out)


def test_plan_shows_what_the_next_tick_would_do_and_changes_nothing(platform: None) -> None:
    code, output = run("plan", "off-hours", "--at", "2026-11-27T19:00:00Z")

    assert code == EXIT_OK
    assert "off-hours plan for 2026-11-27T19:00:00Z: 8 tagged service(s)" in output
    lines = [line for line in output.splitlines() if line.startswith("pyairtable-dev/")]
    assert all("  stop  " in line and "stop 2026-11-27T19:00Z (Fri 20:00 Europe/Berlin)" in line for line in lines)
    assert sizes() == BEFORE


def test_the_plan_is_what_the_tick_then_does(platform: None, lambda_context: Any) -> None:
    # Given the reference platform, one service kept awake through the evening
    ecs = boto3.client("ecs")
    arn = ecs.describe_services(cluster="pyairtable-dev", services=["frontend"])["services"][0]["serviceArn"]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "steward:keep-awake-until", "value": "2026-11-27T23:00:00Z"}])

    # When the plan for the evening is asked for, then the evening tick runs
    _, output = run("plan", "off-hours", "--at", "2026-11-27T19:00:00Z")
    result = off_hours.lambda_handler(EVENING, lambda_context)

    # Then the tick stopped exactly what the plan said it would stop, for the reasons it gave
    rows = [re.split(r"\s{2,}", line, maxsplit=2) for line in output.splitlines() if line.startswith("pyairtable-dev/")]
    planned_stops = {service: why for service, action, why in rows if action == "stop"}
    assert {s["service"]: s["reason"] for s in result["stopped"]} == planned_stops
    assert "pyairtable-dev/frontend" not in planned_stops
    assert len(planned_stops) == 7


def test_plan_with_a_broken_schedules_document_says_nothing_would_change_and_exits_1(platform: None) -> None:
    # Given a schedules document naming a timezone that does not exist
    document = {"office-hours": {**OFFICE_HOURS["office-hours"], "timezone": "Europe/Berlinn"}}
    boto3.client("ssm").put_parameter(
        Name=SCHEDULES_PARAMETER, Overwrite=True, Type="String", Value=json.dumps(document)
    )

    # When the plan is asked for
    code, output = run("plan", "off-hours", "--at", "2026-11-27T19:00:00Z")

    # Then it names the problem, exits 1 and nothing was stopped
    assert code == EXIT_INVALID
    assert output.startswith("scope: dev · all clusters\noff-hours would change nothing: ")
    assert "Europe/Berlinn" in output
    assert sizes() == BEFORE


def test_options_are_accepted_after_the_subcommand(platform: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no settings in the environment
    for name in ("STATE_TABLE", "SCHEDULES_PARAMETER", "STEWARD_ENVIRONMENT"):
        monkeypatch.delenv(name)

    # When they are given after the subcommand
    code, output = run(
        "plan",
        "off-hours",
        "--at",
        "2026-11-27T19:00:00Z",
        "--environment",
        "dev",
        "--state-table",
        STATE_TABLE,
        "--schedules-parameter",
        SCHEDULES_PARAMETER,
    )
    status_code, _ = run("status", "--state-table", STATE_TABLE)

    # Then they count as if given before it
    assert code == EXIT_OK
    assert "8 tagged service(s)" in output
    assert status_code == EXIT_OK


# ------------------------------------------------------------------------------------------ invoke


def test_invoke_runs_a_handler_in_dry_run_and_says_what_it_would_do(platform: None) -> None:
    code, output = run("invoke", "off-hours", "--event", str(EVENTS / "off_hours/Tick--evening.json"))

    assert code == EXIT_OK
    assert output.splitlines()[0].startswith("off-hours (dry run): ")
    assert "  outcome: dry-run" in output
    assert "  stopped: 8" in output
    assert re.search(
        r"pyairtable-dev/api-gateway\s+off: schedule office-hours: stop 2026-11-27T19:00Z \(Fri 20:00", output
    )
    assert sizes() == BEFORE


def test_invoke_with_json_prints_the_handlers_result(platform: None) -> None:
    code, output = run("invoke", "off-hours", "--event", str(EVENTS / "off_hours/Tick--evening.json"), "--json")

    assert code == EXIT_OK
    result = json.loads(output)
    assert result["outcome"] == "dry-run"
    assert len(result["stopped"]) == 8


def test_invoke_with_no_dry_run_acts(platform: None, slack: Any) -> None:
    code, _ = run("invoke", "off-hours", "--event", str(EVENTS / "off_hours/Tick--evening.json"), "--no-dry-run")

    assert code == EXIT_OK
    assert sizes()["api-gateway"]["desired"] == 0


def test_an_event_the_function_does_not_accept_exits_2_with_the_reason(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = str(EVENTS / "malformed/foreign-detail-type.json")

    code, output = run("invoke", "spot-fallback", "--event", foreign)

    assert code == EXIT_USAGE
    assert "outcome: rejected" in output
    error = capsys.readouterr().err
    assert (
        "steward: spot-fallback does not accept this event: unrecognised event 'AWS API Call via CloudTrail'" in error
    )

    assert run("invoke", "off-hours", "--event", foreign)[0] == EXIT_USAGE
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith(
        "steward: off-hours does not accept this event: unrecognised event 'AWS API Call via CloudTrail': "
        "this function handles RDS DB Cluster Event, RDS DB Instance Event, steward.scheduler"
    )
    assert "OffHoursTick" not in error


def test_invoke_rejects_a_file_that_is_not_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "event.json"
    bad.write_text("{not json")

    assert run("invoke", "off-hours", "--event", str(bad))[0] == EXIT_USAGE
    assert "is not JSON" in capsys.readouterr().err


def test_a_custom_endpoint_alone_does_not_make_invoke_act(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a local endpoint with Steward's table and schedules, and no --no-dry-run
    table, parameter = f"state-{uuid.uuid4().hex[:8]}", f"/steward-{uuid.uuid4().hex[:8]}/schedules"
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    for name, value in (("STATE_TABLE", table), ("SCHEDULES_PARAMETER", parameter), ("STEWARD_ENVIRONMENT", "dev")):
        monkeypatch.setenv(name, value)
    create_state_table(boto3.client("dynamodb"), table)
    boto3.client("ssm").put_parameter(Name=parameter, Type="String", Value=json.dumps(OFFICE_HOURS))

    # When an event is invoked
    code, output = run("invoke", "off-hours", "--event", str(EVENTS / "off_hours/Tick--evening.json"), "--json")

    # Then it is a dry run
    assert code == EXIT_OK
    assert json.loads(output)["outcome"] == "dry-run"


# ------------------------------------------------------------------------------------------ digest


def test_digest_prints_without_any_flag(aws: None) -> None:
    from tests.integration.test_cost_report import NOW, forecast, queue, window

    forecast({"Total": {"Amount": "412.50", "Unit": "USD"}})
    queue(window(lambda day: {"api-gateway": "12.00", "frontend": "3.50"}))

    code, output = run("digest", "--at", NOW)

    assert code == EXIT_OK
    assert "Cost digest" in output
    assert "api-gateway" in output


# ------------------------------------------------------------------------------------------ status and history


def test_status_shows_what_is_held_off_and_since_when(platform: None, lambda_context: Any) -> None:
    # Given the evening tick held the platform at zero
    off_hours.lambda_handler(EVENING, lambda_context)

    # When the status is asked for
    code, output = run("status")

    # Then each held service is listed with its time in UTC and what it comes back to
    assert code == EXIT_OK
    assert "Held at zero: 8" in output
    assert re.search(
        r"pyairtable-dev/api-gateway\s+2026-11-27T19:00:00Z\s+schedule\s+2 task\(s\), auto scaling min 2 max 8", output
    )
    assert "On on-demand after a Spot failure: none" in output
    assert "Last cost digest: none posted" in output


def test_status_and_plan_show_the_databases_held_stopped_and_why_one_cannot_be(
    platform: None, lambda_context: Any
) -> None:
    # Given the platform's databases (and a read replica) on office-hours, stopped after their services
    from devtools.platform import seed_databases

    seed_databases(boto3.session.Session())
    boto3.client("rds").create_db_instance_read_replica(
        DBInstanceIdentifier="reports-replica",
        SourceDBInstanceIdentifier="pyairtable-dev-db",
        Tags=[{"Key": "steward:environment", "Value": "dev"}, {"Key": "steward:schedule", "Value": "office-hours"}],
    )
    off_hours.lambda_handler(EVENING, lambda_context)
    off_hours.lambda_handler({**EVENING, "now": "2026-11-27T19:10:00Z"}, lambda_context)

    # When the status and Monday morning's plan are asked for
    code, output = run("status")
    plan_code, plan = run("plan", "off-hours", "--at", "2026-11-30T05:45:00Z")

    # Then the held databases are listed with when they start, and the plan says what it starts and what it skips
    assert code == plan_code == EXIT_OK
    assert "Databases held stopped: 1" in output
    assert re.search(r"cluster/pyairtable-dev-aurora\s+2026-11-27T19:10:00Z\s+schedule\s+at its schedule", output)
    assert re.search(r"cluster/pyairtable-dev-aurora\s+start\s+on 15 min ahead of its services", plan)
    assert re.search(r"instance/reports-replica\s+skip\s+read replica of pyairtable-dev-db", plan)


def test_status_as_json(platform: None, lambda_context: Any) -> None:
    off_hours.lambda_handler(EVENING, lambda_context)

    code, output = run("status", "--json")

    assert code == EXIT_OK
    document = json.loads(output)
    held = {entry["service"]: entry for entry in document["held"]}
    assert held["pyairtable-dev/frontend"]["since"] == "2026-11-27T19:00:00Z"
    assert held["pyairtable-dev/frontend"]["by"] == "schedule"
    assert document["on_demand"] == [] and document["rollbacks"] == [] and document["last_digest"] is None


def test_status_shows_the_latest_rollback_and_the_last_digest(aws: None, lambda_context: Any, slack: Any) -> None:
    from steward.adapters.rollback_records import RollbackRecords, StoredMarker
    from steward.adapters.state import StateStore
    from steward.domain.rollback import RollbackMarker
    from steward.handlers import cost_report
    from tests.integration.test_cost_report import NOW, forecast, queue, window

    # Given a task definition rollback recorded the way deploy rollback records it, and the morning's digest posted
    task_definition = "arn:aws:ecs:eu-central-1:123456789012:task-definition/api-gateway:{}"
    at = datetime(2026, 11, 27, 15, 20, 5, tzinfo=UTC)
    marker = RollbackMarker(to=task_definition.format(41), from_=task_definition.format(42), at=at, alarm="api-5xx")
    claim = RollbackRecords(StateStore(shared_aws(), STATE_TABLE)).episode_claim(
        "arn:aws:cloudwatch:eu-central-1:123456789012:alarm:api-5xx",
        at,
        "pyairtable-dev/api-gateway",
        now=at,
        marker=marker,
        previous=StoredMarker(),
    )
    assert claim.take()
    forecast({"Total": {"Amount": "412.50", "Unit": "USD"}})
    queue(window(lambda day: {"api-gateway": "12.00"}))
    cost_report.lambda_handler({"source": "steward.scheduler", "task": "cost-digest", "now": NOW}, lambda_context)

    # When the status is asked for
    code, output = run("status")

    # Then both are there, in UTC
    assert code == EXIT_OK
    assert re.search(
        r"pyairtable-dev/api-gateway\s+2026-11-27T15:20:05Z\s+api-gateway:42\s+api-gateway:41\s+api-5xx", output
    )
    assert "Last cost digest: for 2026-11-27, posted 2026-11-28T07:30:00Z" in output


def test_history_lists_holds_and_restores_since_an_instant(platform: None, lambda_context: Any) -> None:
    # Given a night held off and the Monday morning restore
    off_hours.lambda_handler(EVENING, lambda_context)
    off_hours.lambda_handler(MONDAY_MORNING, lambda_context)

    # When the history since Friday is asked for
    code, output = run("history", "--since", "2026-11-27T00:00:00Z")

    # Then both edges of each hold are there, oldest first, in UTC
    assert code == EXIT_OK
    lines = [line for line in output.splitlines() if "pyairtable-dev/api-gateway" in line]
    assert lines[0].startswith("2026-11-27T19:00:00Z") and "held at zero by schedule (2 task(s))" in lines[0]
    assert lines[1].startswith("2026-11-30T06:00:00Z") and "restored 2 task(s) after 59 h 00 min" in lines[1]

    _, after = run("history", "--since", "2026-11-29T00:00:00Z", "--json")
    events = json.loads(after)["events"]
    assert {event["at"] for event in events} == {"2026-11-30T06:00:00Z"}


def test_history_since_takes_a_duration_or_an_instant() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    assert _since("24h", now) == now - timedelta(hours=24)
    assert _since("7d", now) == now - timedelta(days=7)
    assert _since("90m", now) == now - timedelta(minutes=90)
    assert _since("2026-11-27T19:00:00Z", now) == datetime(2026, 11, 27, 19, tzinfo=UTC)


def test_a_since_that_is_neither_is_a_usage_error(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("history", "--since", "yesterday")[0] == EXIT_USAGE
    assert "--since 'yesterday' is neither a duration" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ restore-all


def test_restore_all_brings_back_services_held_by_an_off_hours_stop(platform: None, lambda_context: Any) -> None:
    # Given the evening tick held the platform at zero, its scalable targets at min 0 with scaling suspended
    off_hours.lambda_handler(EVENING, lambda_context)
    assert sizes()["api-gateway"] == {"desired": 0, "target": (0, 8, True)}

    # When everything is restored
    code, output = run("restore-all")

    # Then each service has its desired count and scalable target back, and the output names each one
    assert code == EXIT_OK
    assert sizes() == BEFORE
    assert hold_records() == []
    assert re.search(r"restored\s+pyairtable-dev/api-gateway\s+desired count 2; auto scaling min 2 max 8", output), (
        output
    )
    assert "8 service(s): 8 done, 0 not restored" in output
    # And the rest of the night's ticks leave them running: this off period counts as handled
    off_hours.lambda_handler(LATER_THAT_EVENING, lambda_context)
    assert sizes() == BEFORE


def test_restore_all_brings_back_services_held_by_a_budget_stop(
    platform: None, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a budget action stopped the dev services
    monkeypatch.setenv("BUDGET_ACTIONS", '{"dev-monthly": {"action": "stop", "selector": {"env": "dev"}}}')
    result = budget_alert.lambda_handler(
        load_event("budget_alert/BudgetNotification--monthly-actual-100.json"), lambda_context
    )
    assert len(result["records"][0]["stopped"]) == 8
    assert sizes()["llm-orchestrator"] == {"desired": 0, "target": (0, 6, True)}

    # When everything is restored
    code, output = run("restore-all")

    # Then they are back exactly as they were
    assert code == EXIT_OK
    assert sizes() == BEFORE
    assert re.search(r"restored\s+pyairtable-dev/llm-orchestrator\s+desired count 2; auto scaling min 1 max 6", output)


def test_restore_all_dry_run_lists_what_it_would_do_and_changes_nothing(platform: None, lambda_context: Any) -> None:
    off_hours.lambda_handler(EVENING, lambda_context)
    held = sizes()

    code, output = run("restore-all", "--dry-run")

    assert code == EXIT_OK
    assert "dry run: nothing is changed" in output
    assert re.search(r"would restore\s+pyairtable-dev/frontend\s+desired count 2; auto scaling min 2 max 4", output)
    assert "8 service(s): 8 would be restored, 0 not restored" in output
    assert sizes() == held
    assert len(hold_records()) == 8


def test_restore_all_twice_restores_once_and_the_second_run_finds_nothing_held(
    platform: None, lambda_context: Any
) -> None:
    off_hours.lambda_handler(EVENING, lambda_context)
    assert run("restore-all")[0] == EXIT_OK
    # Someone scales a service down by hand after the restore; a second run must not touch it.
    Ecs(shared_aws()).set_desired_count(CLUSTER, "frontend", 1)
    assert run("restore-all")[1].splitlines()[-1].startswith("nothing held: ")

    code, output = run("restore-all", "--json")

    assert code == EXIT_OK
    assert json.loads(output) == {"dry_run": False, "services": []}
    assert sizes()["frontend"]["desired"] == 1


def test_restore_all_reports_a_service_it_could_not_restore_exits_1_and_a_second_run_finishes(
    platform: None, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the platform held at zero, and ECS refusing frontend's desired count once
    off_hours.lambda_handler(EVENING, lambda_context)
    original = Ecs.set_desired_count
    refusals = []

    def refuse_frontend_once(self: Ecs, cluster: str, service: str, count: int) -> None:
        if service == "frontend" and not refusals:
            refusals.append(service)
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "UpdateService")
        original(self, cluster, service, count)

    monkeypatch.setattr(Ecs, "set_desired_count", refuse_frontend_once)

    # When everything is restored
    code, output = run("restore-all")

    # Then the others are back, frontend is named as still held, and the exit code says so
    assert code == EXIT_INVALID
    assert re.search(r"failed\s+pyairtable-dev/frontend\s+AccessDeniedException: not allowed; still held", output)
    assert "8 service(s): 7 done, 1 not restored" in output
    assert sizes()["frontend"]["desired"] == 0
    assert sizes()["api-gateway"] == BEFORE["api-gateway"]

    # And a second run finishes the job
    code, output = run("restore-all")
    assert code == EXIT_OK
    assert sizes() == BEFORE
    assert "1 service(s): 1 done, 0 not restored" in output


def test_restore_all_never_touches_a_service_steward_does_not_hold(platform: None, lambda_context: Any) -> None:
    # Given one service Steward holds and one the team scaled to zero themselves
    session = boto3.session.Session()
    create_service(session.client("ecs"), session.client("application-autoscaling"), ServiceSpec("batch", 0))
    off_hours.lambda_handler(EVENING, lambda_context)

    code, output = run("restore-all")

    assert code == EXIT_OK
    assert sizes()["batch"]["desired"] == 0
    assert "batch" not in output


def test_restore_all_names_a_held_service_that_is_gone_and_exits_1(platform: None, lambda_context: Any) -> None:
    # Given the platform held at zero, then one of its services deleted
    off_hours.lambda_handler(EVENING, lambda_context)
    boto3.client("ecs").delete_service(cluster=CLUSTER, service="mcp-server", force=True)

    code, output = run("restore-all")

    assert code == EXIT_INVALID
    assert re.search(r"not restored\s+pyairtable-dev/mcp-server\s+service or its cluster is gone", output)
    assert "8 service(s): 7 done, 1 not restored" in output
    assert sizes()["api-gateway"] == BEFORE["api-gateway"]


def test_restore_all_shifts_a_service_on_on_demand_back_to_its_recorded_strategy(
    aws: None, lambda_context: Any
) -> None:
    # Given a service moved to on-demand by a Fargate Spot interruption
    session = boto3.session.Session()
    session.client("ecs").create_cluster(clusterName=CLUSTER, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    overlay = EcsOverlay(session.client("ecs"))
    shared_aws().use("ecs", overlay)
    create_service(
        session.client("ecs"),
        session.client("application-autoscaling"),
        ServiceSpec("llm-orchestrator", 2),
        tags={"steward:spot-fallback": "on"},
    )
    overlay.set_strategy(CLUSTER, "llm-orchestrator", SPOT_BASE)
    event = load_event("spot_fallback/FargateSpotTaskStopped--spot-interruption.json")
    event["detail"]["group"] = "service:llm-orchestrator"
    assert spot_fallback.lambda_handler(event, lambda_context)["services"][0]["outcome"] == "fell back"
    _, status = run("status")
    assert re.search(r"pyairtable-dev/llm-orchestrator\s+\S+Z\s+\S+Z\s+FARGATE_SPOT base 2 weight 1", status)

    # When everything is restored, without waiting for Spot to be stable
    code, output = run("restore-all")

    # Then the original strategy is back, with a new deployment, and the episode is closed
    assert code == EXIT_OK
    assert overlay.strategies[(CLUSTER, "llm-orchestrator")] == [{"base": 0, "weight": 0, **item} for item in SPOT_BASE]
    assert overlay.updates[-1]["forceNewDeployment"] is True
    assert re.search(
        r"shifted back\s+pyairtable-dev/llm-orchestrator\s+capacity provider strategy FARGATE_SPOT base 2", output
    )
    assert "On on-demand after a Spot failure: none" in run("status")[1]


# ------------------------------------------------------------------------------------------ errors, region, pipes


def test_a_missing_state_table_is_named_without_a_traceback_or_class_name(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run("status", "--state-table", "steward-prod-state")

    assert code == EXIT_USAGE
    error = capsys.readouterr().err
    assert "steward: state table 'steward-prod-state' not found in eu-central-1" in error
    no_internals(error)


def test_missing_settings_are_named_without_a_class_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("STATE_TABLE", "SCHEDULES_PARAMETER", "STEWARD_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)

    assert run("plan", "off-hours")[0] == EXIT_USAGE
    error = capsys.readouterr().err
    assert "STATE_TABLE" in error and "--state-table" in error
    no_internals(error)
    assert "OffHoursSettings" not in error
    assert run("status")[0] == EXIT_USAGE
    assert "no state table: pass --state-table or set STATE_TABLE" in capsys.readouterr().err


def test_the_region_comes_from_aws_default_region(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given only AWS_DEFAULT_REGION, naming a region where Steward's table is
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    create_state_table(boto3.client("dynamodb", region_name="eu-west-1"), "steward-eu-west-1")

    assert run("status", "--state-table", "steward-eu-west-1")[0] == EXIT_OK
    assert run("status", "--state-table", STATE_TABLE)[0] == EXIT_USAGE  # that table lives in eu-central-1
    assert f"state table '{STATE_TABLE}' not found in eu-west-1" in capsys.readouterr().err


def test_the_region_comes_from_the_profile_config_file(
    aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given no region variable, and a profile whose config names the region
    create_state_table(boto3.client("dynamodb", region_name="eu-north-1"), "steward-eu-north-1")
    config = tmp_path / "config"
    config.write_text("[profile ops]\nregion = eu-north-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "ops")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)

    code, _ = run("status", "--state-table", "steward-eu-north-1")

    assert code == EXIT_OK


def test_no_region_at_all_is_named(
    aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)

    assert run("status")[0] == EXIT_USAGE
    assert "no AWS region: set AWS_DEFAULT_REGION" in capsys.readouterr().err


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


def test_status_into_a_closed_pipe_ends_without_a_traceback(moto_server: str) -> None:
    # Given a state table on a local endpoint, and a reader that has already gone (like `| head` after its lines)
    table = f"state-{uuid.uuid4().hex[:8]}"
    create_state_table(boto3.client("dynamodb", endpoint_url=moto_server), table)
    reader, writer = os.pipe()
    os.close(reader)
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_server,
        "STATE_TABLE": table,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "functions"), str(ROOT)]),
    }

    # When `steward status` writes into it
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "steward.cli", "status"],
            stdout=writer,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
            check=False,
            text=True,
        )
    finally:
        os.close(writer)

    # Then it ends quietly: no traceback, no "Exception ignored", and its own exit code
    assert finished.stderr == ""
    assert finished.returncode == EXIT_OK
