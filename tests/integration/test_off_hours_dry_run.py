"""Off-hours in a dry run through the real handler under moto: the same decisions as a live run, reported once per
edge, with nothing changed but the dry run's own report markers; and going live mid-night acts at the next tick."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from devtools.platform import CLUSTER, REFERENCE_SERVICES, seed_reference_platform, service_sizes
from devtools.slack_standin import SlackStandIn

from steward.handlers import off_hours
from steward.settings import load_settings
from tests.conftest import SCHEDULES_PARAMETER, STATE_TABLE

pytestmark = pytest.mark.long_running

THURSDAY_EVENING = datetime.fromisoformat("2026-11-26T19:00:00+00:00")  # 20:00 Berlin: office-hours ends
FRIDAY_MORNING = datetime.fromisoformat("2026-11-27T06:00:00+00:00")  # 07:00 Berlin: office-hours starts
TICK = timedelta(minutes=10)


def tick(now: datetime, context: Any) -> dict[str, Any]:
    event = {"source": "steward.scheduler", "task": "off-hours-tick", "now": now.isoformat().replace("+00:00", "Z")}
    return off_hours.lambda_handler(event, context)


def night(start: datetime, end: datetime) -> list[datetime]:
    """Every scheduler tick from `start` to `end`, both included."""
    return [start + TICK * step for step in range(int((end - start) / TICK) + 1)]


def sizes() -> dict[str, dict[str, Any]]:
    return service_sizes(boto3.session.Session())


def table_items() -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=STATE_TABLE)["Items"]


def titles(slack: SlackStandIn) -> list[str]:
    return [message.text.splitlines()[0] for message in slack.messages]


def tag(service: str, key: str, value: str) -> None:
    ecs = boto3.client("ecs")
    arn = ecs.describe_services(cluster=CLUSTER, services=[service])["services"][0]["serviceArn"]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": key, "value": value}])


def go_live(monkeypatch: pytest.MonkeyPatch) -> None:
    """DryRun=false on the same stack: the function's new containers read the new environment."""
    monkeypatch.setenv("DRY_RUN", "false")
    load_settings.cache_clear()


@pytest.fixture
def platform(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    seed_reference_platform(boto3.session.Session())
    monkeypatch.setenv("DRY_RUN", "true")
    return sizes()


def test_a_dry_run_night_posts_once_at_each_edge_and_changes_nothing_but_its_report_markers(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: SlackStandIn
) -> None:
    # Given a dry-run stack and the reference platform on office-hours
    # When the scheduler ticks every 10 minutes from Thursday's evening edge to Friday's morning edge
    results = [tick(now, lambda_context) for now in night(THURSDAY_EVENING, FRIDAY_MORNING)]

    # Then Slack got one message at the evening edge and one at the morning edge
    assert len(results) == 67
    assert titles(slack) == ["[dry run] Off-hours: stopped 8, started 0", "[dry run] Off-hours: stopped 0, started 8"]
    assert len(results[0]["stopped"]) == len(results[-1]["started"]) == len(REFERENCE_SERVICES)
    assert all(result["stopped"] == result["started"] == [] for result in results[1:-1])
    assert all(result["outcome"] == "dry-run" and result["changed"] == 0 for result in results)
    # And no ECS service or Auto Scaling target was changed
    assert sizes() == platform
    # And the state table holds only the dry run's report markers, one per service
    items = table_items()
    assert {item["sk"]["S"] for item in items} == {"dry-run-edge"}
    assert len(items) == len(REFERENCE_SERVICES)


def test_a_keep_awake_set_at_night_in_a_dry_run_is_reported_once_as_a_start(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: SlackStandIn
) -> None:
    # Given a dry run that reported the evening stop
    tick(THURSDAY_EVENING, lambda_context)
    # When a team keeps its service awake for the evening and the ticks go on
    tag("frontend", "steward:keep-awake-until", "2026-11-26T22:00:00Z")
    for now in night(THURSDAY_EVENING + TICK, THURSDAY_EVENING + 18 * TICK):  # until 22:00Z
        tick(now, lambda_context)

    # Then the would-be start is reported once, and the would-be stop once again when keep-awake ends
    assert titles(slack) == [
        "[dry run] Off-hours: stopped 8, started 0",
        "[dry run] Off-hours: stopped 0, started 1",
        "[dry run] Off-hours: stopped 1, started 0",
    ]
    assert sizes() == platform


def test_switching_dry_run_off_mid_night_stops_the_services_at_the_next_tick(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a dry run that reported the evening stop and a few quiet ticks after it
    for now in night(THURSDAY_EVENING, THURSDAY_EVENING + 3 * TICK):
        tick(now, lambda_context)
    assert sizes() == platform

    # When DryRun is switched off on the same stack (same table) and the next tick comes
    go_live(monkeypatch)
    live = tick(THURSDAY_EVENING + 4 * TICK, lambda_context)

    # Then that tick stops every service for real, and the morning restores each exactly
    assert live["outcome"] == "ok"
    assert len(live["stopped"]) == len(REFERENCE_SERVICES)
    assert all(size["desired"] == 0 for size in sizes().values())
    for now in night(THURSDAY_EVENING + 5 * TICK, FRIDAY_MORNING):
        tick(now, lambda_context)
    assert sizes() == platform
    assert titles(slack) == [
        "[dry run] Off-hours: stopped 8, started 0",
        "Off-hours: stopped 8, started 0",
        "Off-hours: stopped 0, started 8",
    ]


def test_a_broken_schedules_document_is_announced_once_in_a_dry_run(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: SlackStandIn
) -> None:
    # Given a dry run and a schedules document with an unknown timezone
    boto3.client("ssm").put_parameter(
        Name=SCHEDULES_PARAMETER,
        Overwrite=True,
        Type="String",
        Value=json.dumps({"office-hours": {"timezone": "Europe/Berlinn"}}),
    )

    # When an hour of ticks passes
    results = [tick(now, lambda_context) for now in night(THURSDAY_EVENING, THURSDAY_EVENING + 6 * TICK)]

    # Then every tick pauses off-hours, and Slack hears of it once
    assert {result["outcome"] for result in results} == {"schedules-invalid"}
    assert len(slack.messages) == 1
    assert "Off-hours paused" in slack.messages[0].text
    assert sizes() == platform
