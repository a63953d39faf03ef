"""Before and after an edge: a heads-up in Slack a while before the off edge stops services (with the exact
keep-awake command), and an alert when a service a start restored has not come back some minutes later.

moto reports a fixed running count for every service (MOTO_ECS_SERVICE_RUNNING); a test that needs a service whose
tasks did not start sets that count on moto's service model, and says so."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from devtools.platform import CLUSTER, seed_reference_platform, service_sizes
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecs.models import ecs_backends

from steward.handlers import off_hours


def tick(now: str) -> dict[str, Any]:
    return {"source": "steward.scheduler", "task": "off-hours-tick", "now": now}


EVENING_EDGE = "2026-11-27T19:00:00Z"  # Friday 20:00 Berlin: office-hours ends
TWENTY_FIVE_BEFORE = tick("2026-11-27T18:35:00Z")
FIFTEEN_BEFORE = tick("2026-11-27T18:45:00Z")
MONDAY_START = tick("2026-11-30T06:00:00Z")  # 07:00 Berlin
MONDAY_START_PLUS_10 = tick("2026-11-30T06:10:00Z")
MONDAY_START_PLUS_20 = tick("2026-11-30T06:20:00Z")
MONDAY_START_PLUS_30 = tick("2026-11-30T06:30:00Z")


@pytest.fixture
def platform(aws: None) -> dict[str, dict[str, Any]]:
    seed_reference_platform(boto3.session.Session())
    return service_sizes(boto3.session.Session())


def arn_of(service: str) -> str:
    arn: str = boto3.client("ecs").describe_services(cluster=CLUSTER, services=[service])["services"][0]["serviceArn"]
    return arn


def runs(service: str, tasks: int) -> None:
    """moto's stand-in for tasks that did not start: its service model's running count."""
    ecs_backends[DEFAULT_ACCOUNT_ID]["eu-central-1"].services[f"{CLUSTER}:{service}"].running_count = tasks


def heads_ups(slack: Any) -> list[Any]:
    return [m for m in slack.messages if "Heads-up" in m.text]


def test_a_heads_up_names_what_the_edge_will_stop_once_with_the_keep_awake_command(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: Any
) -> None:
    # Given frontend is kept awake past the edge
    boto3.client("ecs").tag_resource(
        resourceArn=arn_of("frontend"), tags=[{"key": "steward:keep-awake-until", "value": "2026-11-27T22:00:00Z"}]
    )

    # When the ticks 25 and 15 minutes before the evening edge run
    off_hours.lambda_handler(TWENTY_FIVE_BEFORE, lambda_context)
    off_hours.lambda_handler(FIFTEEN_BEFORE, lambda_context)

    # Then nothing has stopped yet, and one heads-up lists what the edge will stop, when, and how to keep one running
    assert service_sizes(boto3.session.Session()) == platform
    [message] = heads_ups(slack)
    assert message.text.startswith("Heads-up: office-hours stops ")
    assert "at 2026-11-27T19:00Z (in 25 min)" in message.text
    body = str(message.blocks)
    assert "api-gateway" in body and "frontend" not in body  # kept awake: not stopping
    command = f"aws ecs tag-resource --resource-arn {arn_of('api-gateway')} --tags key=steward:keep-awake-until,value=2026-11-30T06:00Z"
    assert command in body  # until Monday's start, in a form the tag accepts
    assert "They come back at 2026-11-30T06:00Z" in body

    # And the edge then stops what the heads-up named
    off_hours.lambda_handler(tick(EVENING_EDGE), lambda_context)
    assert service_sizes(boto3.session.Session())["api-gateway"]["desired"] == 0


def test_no_heads_up_when_it_is_turned_off(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADS_UP_MINUTES", "0")

    off_hours.lambda_handler(TWENTY_FIVE_BEFORE, lambda_context)

    assert heads_ups(slack) == []


def test_a_service_that_did_not_come_back_after_its_start_is_reported_once(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: Any
) -> None:
    # Given the platform was held over the weekend and restored at Monday's start, but api-gateway's tasks never
    # started (say, no capacity)
    off_hours.lambda_handler(tick(EVENING_EDGE), lambda_context)
    off_hours.lambda_handler(MONDAY_START, lambda_context)
    assert service_sizes(boto3.session.Session())["api-gateway"]["desired"] == 2
    runs("api-gateway", 0)

    # When the ticks 10, 20 and 30 minutes after the start run
    off_hours.lambda_handler(MONDAY_START_PLUS_10, lambda_context)
    assert not [m for m in slack.messages if "Did not come back" in m.text]  # too early to say
    off_hours.lambda_handler(MONDAY_START_PLUS_20, lambda_context)
    off_hours.lambda_handler(MONDAY_START_PLUS_30, lambda_context)

    # Then one alert names it, with how many tasks run of how many, and since when; the others came back
    [alert] = [m for m in slack.messages if "Did not come back" in m.text]
    assert alert.text == (
        "Did not come back: pyairtable-dev/api-gateway runs 0 of 2 task(s) since its start at 2026-11-30T06:00Z"
    )
