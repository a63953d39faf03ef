"""Tag values Steward cannot read, through the real handlers under moto: the service is never changed in a way the
tag would have prevented, and Slack hears about each value once a day, with the command that fixes it."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import boto3
import pytest
from devtools.ecs_overlay import EcsOverlay
from devtools.platform import CLUSTER, REFERENCE_SERVICES
from devtools.slack_standin import SlackStandIn

from steward.cli import EXIT_OK, main
from steward.handlers import spot_fallback
from tests.conftest import SLACK_CHANNEL
from tests.integration.test_deploy_rollback import T0, Platform, alarm_event, platform  # noqa: F401 (fixture)
from tests.integration.test_off_hours import FRIDAY_EVENING, sizes, tag, tick
from tests.integration.test_off_hours import platform as off_hours_platform  # noqa: F401 (fixture)
from tests.integration.test_spot_fallback import SPOT_BASE, add_service, ecs, interruption  # noqa: F401 (fixture)

NOTICE = "Tags Steward cannot read"


def notices(slack: SlackStandIn) -> list[str]:
    return [message.text for message in slack.messages if message.text.startswith(NOTICE)]


def arn_of(service: str) -> str:
    return str(boto3.client("ecs").describe_services(cluster=CLUSTER, services=[service])["services"][0]["serviceArn"])


@pytest.mark.parametrize(
    ("key", "value", "fixed_to"),
    [
        ("steward:protected", "maybe", "true"),
        ("steward:keep-awake-until", "tomorrow", "2026-11-28T23:00:00Z"),
        ("steward:keep-awake-until", "2026-11-28T23:00:00", "2026-11-28T23:00:00Z"),
        ("steward:schedule", "office-hourz", "office-hours"),
    ],
)
def test_an_unreadable_tag_that_could_spare_a_service_keeps_it_running_and_is_said_once_with_the_fix(
    off_hours_platform: dict[str, dict[str, Any]],  # noqa: F811
    lambda_context: Any,
    slack: SlackStandIn,
    key: str,
    value: str,
    fixed_to: str,
) -> None:
    # Given frontend, scheduled office-hours, carries a tag value Steward cannot read
    tag("frontend", key, value)

    # When office-hours ends, and the next tick comes
    evening = tick(FRIDAY_EVENING, lambda_context)
    tick("2026-11-27T19:10:00Z", lambda_context)

    # Then frontend still runs, every other service stopped, and Slack got one notice naming the value and the fix
    assert sizes()["frontend"] == off_hours_platform["frontend"]
    assert len(evening["stopped"]) == len(REFERENCE_SERVICES) - 1
    [notice] = notices(slack)
    assert f"{key}={value!r}" in notice
    assert f"aws ecs tag-resource --resource-arn {arn_of('frontend')} --tags key={key},value={fixed_to}" in notice


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("steward:spot-fallback", "sure"),
        ("steward:rollback", "maybe"),
        ("steward:channel", "#team-frontend"),
        ("steward:protected", " false "),
    ],
)
def test_every_other_unreadable_steward_tag_is_said_once_a_day_per_service(
    off_hours_platform: dict[str, dict[str, Any]],  # noqa: F811
    lambda_context: Any,
    slack: SlackStandIn,
    key: str,
    value: str,
) -> None:
    # Given frontend carries a steward:* tag value Steward cannot read
    tag("frontend", key, value)

    # When off-hours ticks through the evening and again the next day
    for now in (FRIDAY_EVENING, "2026-11-27T19:10:00Z", "2026-11-27T23:50:00Z"):
        tick(now, lambda_context)
    assert len(notices(slack)) == 1
    tick("2026-11-28T00:00:00Z", lambda_context)

    # Then the value was said once on each day, and no message went to the unreadable channel
    assert len(notices(slack)) == 2
    assert f"{key}={value!r}" in notices(slack)[0]
    assert all(message.body.get("channel") != "#team-frontend" for message in slack.messages)


def test_an_unreadable_channel_does_not_spare_the_service_and_its_messages_go_to_stewards_channel(
    off_hours_platform: dict[str, dict[str, Any]],  # noqa: F811
    lambda_context: Any,
    slack: SlackStandIn,
) -> None:
    # Given frontend names its team channel by name instead of by ID
    tag("frontend", "steward:channel", "#team-frontend")

    # When office-hours ends
    tick(FRIDAY_EVENING, lambda_context)

    # Then it is stopped like the others, and every message went to Steward's own channel
    assert sizes()["frontend"]["desired"] == 0
    assert {message.body.get("channel") for message in slack.messages} == {SLACK_CHANNEL}


def test_plan_shows_each_unreadable_value_why_what_steward_does_meanwhile_and_the_fix(
    off_hours_platform: dict[str, dict[str, Any]],  # noqa: F811
) -> None:
    # Given two services with tag values Steward cannot read
    tag("frontend", "steward:protected", "maybe")
    tag("api-gateway", "steward:keep-awake-until", "2026-11-28T23:00:00")

    # When the plan for the evening is asked for
    out = io.StringIO()
    code = main(["plan", "off-hours", "--at", FRIDAY_EVENING], out=out)

    # Then each is listed with its value, why, what Steward does until it is fixed, and the command that fixes it
    output = out.getvalue()
    assert code == EXIT_OK
    assert "2 tag value(s) Steward cannot read:" in output
    assert "pyairtable-dev/frontend: steward:protected='maybe' is not a switch word: treated as protected" in output
    assert "steward:keep-awake-until='2026-11-28T23:00:00' has no time zone: held awake" in output
    assert "add its zone: Z for UTC" in output
    command = f"aws ecs tag-resource --resource-arn {arn_of('api-gateway')}"
    assert f"{command} --tags key=steward:keep-awake-until,value=2026-11-28T23:00:00Z" in output
    assert sizes() == off_hours_platform


def test_spot_fallback_sure_is_not_shifted_and_the_team_is_told_the_value_to_set(
    ecs: EcsOverlay,  # noqa: F811
    lambda_context: Any,
    slack: SlackStandIn,
) -> None:
    # Given llm-orchestrator runs on Spot, tagged steward:spot-fallback=sure
    add_service(ecs, "llm-orchestrator", SPOT_BASE, **{"steward:spot-fallback": "sure"})

    # When Spot interrupts one of its tasks
    result = spot_fallback.lambda_handler(interruption(), lambda_context)

    # Then its strategy is left as it is, and Slack hears why and what to set
    assert result["services"][0]["outcome"] == "left alone"
    assert ecs.updates == []
    assert any("steward:spot-fallback='sure'" in message.text for message in slack.messages)


def test_rollback_maybe_never_rolls_back(platform: Platform) -> None:  # noqa: F811
    # Given api-gateway deployed :40 then :42, tagged steward:rollback=maybe
    platform.deploy(40, T0)
    platform.deploy(42, T0 + timedelta(hours=2))
    updates = len(platform.ecs.updates)
    boto3.client("ecs").tag_resource(
        resourceArn=arn_of("api-gateway"), tags=[{"key": "steward:rollback", "value": "maybe"}]
    )

    # When its alarm fires inside the rollback window
    result = platform.handle(alarm_event(T0 + timedelta(hours=2, minutes=10)))

    # Then nothing is rolled back, and the reason names the value
    assert result["outcome"] == "no rollback"
    assert "steward:rollback='maybe'" in result["reason"]
    assert len(platform.ecs.updates) == updates


def test_a_service_without_a_schedule_is_not_listed_as_skipped_for_its_unreadable_tag(
    off_hours_platform: dict[str, dict[str, Any]],  # noqa: F811
    lambda_context: Any,
    slack: SlackStandIn,
) -> None:
    # Given frontend has no schedule, only an unreadable steward:spot-fallback
    tag("frontend", "steward:schedule", None)
    tag("frontend", "steward:spot-fallback", "sure")

    # When office-hours ends
    evening = tick(FRIDAY_EVENING, lambda_context)

    # Then the evening's report does not list it as skipped; the daily notice names it
    assert f"{CLUSTER}/frontend" not in {s["service"] for s in evening["skipped"]}
    assert sizes()["frontend"] == off_hours_platform["frontend"]
    [notice] = notices(slack)
    assert "steward:spot-fallback='sure'" in notice
