"""Idle ticks through the real handler under moto: a tick with nothing due reads one tag sweep, the records, the
schedules and the pause switch; a tag change, a record another function wrote, a passed edge or a missed tick makes
the next tick a full reconcile, so nothing Steward would have done is delayed by more than one tick."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from devtools.platform import CLUSTER, seed_databases, seed_reference_platform, service_sizes

from steward.handlers import off_hours

IDLE_READS = {
    "resourcegroupstaggingapi.GetResources",  # one page: 8 services and 3 databases
    "dynamodb.Query",  # the records and the marker
    "ssm.GetParameter",  # the schedules, and the pause switch
}


def tick(now: str, context: Any) -> dict[str, Any]:
    return off_hours.lambda_handler({"source": "steward.scheduler", "task": "off-hours-tick", "now": now}, context)


def tag(service: str, key: str, value: str) -> None:
    ecs = boto3.client("ecs")
    arn = ecs.describe_services(cluster=CLUSTER, services=[service])["services"][0]["serviceArn"]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": key, "value": value}])


@pytest.fixture
def platform(aws: None) -> None:
    seed_reference_platform(boto3.session.Session())
    seed_databases(boto3.session.Session())


def test_a_tick_with_nothing_due_reads_only_the_sweep_the_records_the_schedules_and_the_pause_switch(
    platform: None, lambda_context: Any, aws_calls: list[str]
) -> None:
    # Given a full reconcile at midday, with nothing due before the evening's heads-up
    assert tick("2026-11-27T11:00:00Z", lambda_context)["outcome"] == "ok"
    aws_calls.clear()

    # When the next tick comes
    result = tick("2026-11-27T11:10:00Z", lambda_context)

    # Then it is idle: at most ceil(N/100) + 3 requests, none of them a Describe
    assert result["outcome"] == "idle"
    assert set(aws_calls) <= IDLE_READS
    assert len(aws_calls) <= 4, aws_calls


def test_the_first_tick_after_an_edge_reconciles_and_acts(platform: None, lambda_context: Any) -> None:
    tick("2026-11-27T17:00:00Z", lambda_context)
    assert tick("2026-11-27T18:20:00Z", lambda_context)["outcome"] == "idle"

    heads_up = tick("2026-11-27T18:30:00Z", lambda_context)  # 30 minutes before the off edge: the heads-up is due
    evening = tick("2026-11-27T19:00:00Z", lambda_context)

    assert heads_up["outcome"] == "ok"
    assert len(evening["stopped"]) == 8


def test_a_tag_change_takes_effect_at_the_next_tick(platform: None, lambda_context: Any) -> None:
    # Given the platform held off for the night, and the ticks gone idle
    tick("2026-11-27T19:00:00Z", lambda_context)
    for now in ("2026-11-27T19:10:00Z", "2026-11-27T19:20:00Z"):
        tick(now, lambda_context)
    assert tick("2026-11-27T21:00:00Z", lambda_context)["outcome"] == "idle"

    # When a team keeps its service awake for the evening
    tag("frontend", "steward:keep-awake-until", "2026-11-27T23:00:00Z")
    result = tick("2026-11-27T21:10:00Z", lambda_context)

    # Then the very next tick starts it
    assert [line["service"] for line in result["started"]] == [f"{CLUSTER}/frontend"]
    assert service_sizes(boto3.session.Session())["frontend"]["desired"] == 2
    # And its keep-awake's end is due like an edge: after the come-back check, idle until the tick at 23:00
    times = [f"2026-11-27T{hour}:{minute}0:00Z" for hour in (21, 22) for minute in range(6)][2:]  # 21:20-22:50
    outcomes = [tick(now, lambda_context)["outcome"] for now in times]
    # 21:20 sees the records the start changed; 21:30 makes the come-back check due at 21:25
    assert outcomes == ["ok", "ok", *["idle"] * 8], outcomes
    assert [line["service"] for line in tick("2026-11-27T23:00:00Z", lambda_context)["stopped"]] == [
        f"{CLUSTER}/frontend"
    ]


def test_missed_ticks_heal_at_the_next_one(platform: None, lambda_context: Any) -> None:
    # Given the platform held off for the weekend
    for now in ("2026-11-27T19:00:00Z", "2026-11-27T19:10:00Z", "2026-11-27T19:20:00Z"):
        tick(now, lambda_context)

    # When no tick runs from Friday night until Monday 08:00 (the 07:00 start and the databases' lead missed)
    morning = tick("2026-11-30T07:00:00Z", lambda_context)

    # Then that tick starts every service and database
    assert len(morning["started"]) == 8
    assert len(morning["databases"]["started"]) == 2


def test_a_record_another_function_wrote_makes_the_next_tick_reconcile(platform: None, lambda_context: Any) -> None:
    tick("2026-11-27T11:00:00Z", lambda_context)
    assert tick("2026-11-27T11:10:00Z", lambda_context)["outcome"] == "idle"

    # A budget stop holds a service with its own restore record, until the period resets
    boto3.client("dynamodb").put_item(
        TableName="steward-test-state",
        Item={
            "pk": {"S": f"service#{CLUSTER}/mcp-server"},
            "sk": {"S": "off-hours"},
            "edge_id": {"S": "budget:dev-monthly@2026-11-01T00:00:00+00:00"},
            "desired_count": {"N": "1"},
            "stopped_at": {"S": "2026-11-27T11:15:00+00:00"},
            "stopped_by": {"S": "budget:dev-monthly"},
            "status": {"S": "stopped"},
            "hold_until": {"S": "2026-11-27T12:00:00+00:00"},
        },
    )

    assert tick("2026-11-27T11:20:00Z", lambda_context)["outcome"] == "ok"
    assert tick("2026-11-27T11:30:00Z", lambda_context)["outcome"] == "idle"
    # And the hold's end is due like an edge
    assert [line["service"] for line in tick("2026-11-27T12:00:00Z", lambda_context)["started"]] == [
        f"{CLUSTER}/mcp-server"
    ]
