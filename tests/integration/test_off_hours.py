"""Off-hours through the real handler under moto: services stop in the evening and come back exactly in the morning."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from devtools.platform import (
    CLUSTER,
    REFERENCE_SERVICES,
    ServiceSpec,
    create_service,
    seed_reference_platform,
    service_sizes,
)
from devtools.slack_standin import SlackStandIn

from steward.handlers import off_hours
from tests.conftest import SCHEDULES_PARAMETER, STATE_TABLE

FRIDAY_EVENING = "2026-11-27T19:00:00Z"  # 20:00 Berlin: office-hours ends
FRIDAY_NIGHT = "2026-11-27T23:00:00Z"
MONDAY_MORNING = "2026-11-30T06:00:00Z"  # 07:00 Berlin: office-hours starts
MONDAY_NOON = "2026-11-30T11:00:00Z"


def tick(now: str, context: Any) -> dict[str, Any]:
    return off_hours.lambda_handler({"source": "steward.scheduler", "task": "off-hours-tick", "now": now}, context)


def sizes() -> dict[str, dict[str, Any]]:
    return service_sizes(boto3.session.Session())


def restore_records() -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=STATE_TABLE)["Items"]
    return [item for item in items if item["sk"]["S"] == "off-hours" and "desired_count" in item]


def tag(service: str, key: str, value: str | None) -> None:
    ecs = boto3.client("ecs")
    arn = ecs.describe_services(cluster=CLUSTER, services=[service])["services"][0]["serviceArn"]
    if value is None:
        ecs.untag_resource(resourceArn=arn, tagKeys=[key])
    else:
        ecs.tag_resource(resourceArn=arn, tags=[{"key": key, "value": value}])


@pytest.fixture
def platform(aws: None) -> dict[str, dict[str, Any]]:
    seed_reference_platform(boto3.session.Session())
    return sizes()


def test_evening_stops_every_scheduled_service_and_morning_restores_each_exactly(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: SlackStandIn
) -> None:
    evening = tick(FRIDAY_EVENING, lambda_context)

    assert len(evening["stopped"]) == len(REFERENCE_SERVICES)
    night = sizes()
    assert all(size["desired"] == 0 for size in night.values())
    for name, size in night.items():
        if platform[name]["target"] is not None:
            assert size["target"][0] == 0, f"{name}: auto scaling minimum not lowered"
            assert size["target"][2] is True, f"{name}: auto scaling not suspended"
            assert size["target"][1] == platform[name]["target"][1], f"{name}: maximum changed"
    assert len(restore_records()) == len(REFERENCE_SERVICES)

    morning = tick(MONDAY_MORNING, lambda_context)

    assert len(morning["started"]) == len(REFERENCE_SERVICES)
    assert sizes() == platform
    assert restore_records() == []
    assert [m.text.splitlines()[0] for m in slack.messages] == [
        "Off-hours: stopped 8, started 0",
        "Off-hours: stopped 0, started 8",
    ]


def test_a_cold_starts_first_tick_makes_every_client_from_one_session(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: SlackStandIn
) -> None:
    # A Session per client read botocore's endpoint and service data again for each one: the first invocation's
    # latency grew with every service it touched.
    sessions: list[boto3.session.Session] = []
    clients: list[str] = []
    made_session, made_client = boto3.session.Session.__init__, boto3.session.Session.client

    def counted_session(self: boto3.session.Session, *args: Any, **kwargs: Any) -> None:
        sessions.append(self)
        made_session(self, *args, **kwargs)

    def counted_client(self: boto3.session.Session, service: str, *args: Any, **kwargs: Any) -> Any:
        clients.append(service)
        return made_client(self, service, *args, **kwargs)

    with (
        mock.patch.object(boto3.session.Session, "__init__", counted_session),
        mock.patch.object(boto3.session.Session, "client", counted_client),
    ):
        evening = tick(FRIDAY_EVENING, lambda_context)

    assert len(evening["stopped"]) == len(REFERENCE_SERVICES)
    assert {"ecs", "application-autoscaling", "dynamodb", "ssm"} <= set(clients)
    assert len(clients) == len(set(clients)), "a client made twice"
    assert len(sessions) == 1


def test_scalable_target_min2_max8_desired4_is_held_at_zero_then_restored_with_its_suspended_state(
    aws: None, lambda_context: Any
) -> None:
    session = boto3.session.Session()
    boto3.client("ecs").create_cluster(clusterName=CLUSTER)
    create_service(
        session.client("ecs"),
        session.client("application-autoscaling"),
        ServiceSpec("api-gateway", 4, target=(2, 8)),
        tags={"steward:schedule": "office-hours"},
    )
    # The team had scheduled scaling suspended on purpose; that must survive the night.
    session.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=f"service/{CLUSTER}/api-gateway",
        ScalableDimension="ecs:service:DesiredCount",
        SuspendedState={"ScheduledScalingSuspended": True},
    )

    tick(FRIDAY_EVENING, lambda_context)
    for later in ("2026-11-27T21:00:00Z", "2026-11-28T12:00:00Z", "2026-11-29T23:50:00Z"):
        assert tick(later, lambda_context)["changed"] == 0
        assert sizes()["api-gateway"]["desired"] == 0
    tick(MONDAY_MORNING, lambda_context)

    target = boto3.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs")[
        "ScalableTargets"
    ][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 8)
    assert target["SuspendedState"] == {
        "DynamicScalingInSuspended": False,
        "DynamicScalingOutSuspended": False,
        "ScheduledScalingSuspended": True,
    }
    assert sizes()["api-gateway"]["desired"] == 4


def test_a_service_already_at_zero_stays_at_zero_and_nothing_is_recorded(
    platform: dict[str, dict[str, Any]], lambda_context: Any
) -> None:
    boto3.client("ecs").update_service(cluster=CLUSTER, service="mcp-server", desiredCount=0)

    tick(FRIDAY_EVENING, lambda_context)
    assert "mcp-server" not in {item["pk"]["S"].rsplit("/", 1)[-1] for item in restore_records()}
    tick(MONDAY_MORNING, lambda_context)

    assert sizes()["mcp-server"]["desired"] == 0


def test_a_duplicate_tick_changes_nothing_and_posts_nothing(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: SlackStandIn
) -> None:
    tick(FRIDAY_EVENING, lambda_context)
    again = tick(FRIDAY_EVENING, lambda_context)

    assert again["changed"] == 0
    assert again["stopped"] == again["started"] == []
    assert len(slack.messages) == 1


def test_a_tick_that_fails_halfway_is_finished_by_the_next_one(
    platform: dict[str, dict[str, Any]], lambda_context: Any
) -> None:
    from steward.adapters.ecs import Ecs

    original = Ecs.set_desired_count

    def throttled_for_frontend(self: Ecs, cluster: str, service: str, count: int) -> None:
        if service == "frontend":
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "UpdateService")
        original(self, cluster, service, count)

    with mock.patch.object(Ecs, "set_desired_count", throttled_for_frontend):
        first = tick(FRIDAY_EVENING, lambda_context)
    assert [f["service"] for f in first["failed"]] == [f"{CLUSTER}/frontend"]
    assert len(first["stopped"]) == len(REFERENCE_SERVICES) - 1
    assert sizes()["frontend"]["desired"] == 2  # untouched count, but its restore record exists
    assert any(item["pk"]["S"].endswith("/frontend") for item in restore_records())

    second = tick("2026-11-27T19:10:00Z", lambda_context)

    assert [s["service"] for s in second["stopped"]] == [f"{CLUSTER}/frontend"]
    assert sizes()["frontend"]["desired"] == 0
    tick(MONDAY_MORNING, lambda_context)
    assert sizes() == platform


def test_if_the_restore_record_cannot_be_written_the_service_is_not_touched(
    platform: dict[str, dict[str, Any]], lambda_context: Any
) -> None:
    from steward.adapters.state import StateStore, StateUnavailable

    def refuse(*args: Any, **kwargs: Any) -> bool:
        raise StateUnavailable("cannot write: ProvisionedThroughputExceededException")

    with mock.patch.object(StateStore, "put_new", refuse):
        result = tick(FRIDAY_EVENING, lambda_context)

    assert len(result["failed"]) == len(REFERENCE_SERVICES)
    assert sizes() == platform


def test_a_manual_scale_up_at_night_keeps_its_count_in_the_morning(
    platform: dict[str, dict[str, Any]], lambda_context: Any
) -> None:
    tick(FRIDAY_EVENING, lambda_context)
    boto3.client("ecs").update_service(cluster=CLUSTER, service="llm-orchestrator", desiredCount=3)

    night = tick(FRIDAY_NIGHT, lambda_context)
    assert sizes()["llm-orchestrator"]["desired"] == 3
    assert night["changed"] == 0
    tick(MONDAY_MORNING, lambda_context)

    after = sizes()["llm-orchestrator"]
    assert after["desired"] == 3
    assert after["target"] == platform["llm-orchestrator"]["target"]  # auto scaling restored all the same
    assert not any(item["pk"]["S"].endswith("/llm-orchestrator") for item in restore_records())


def test_keep_awake_holds_a_service_up_until_it_expires(
    platform: dict[str, dict[str, Any]], lambda_context: Any
) -> None:
    tag("frontend", "steward:keep-awake-until", "2026-11-27T23:00:00Z")

    tick(FRIDAY_EVENING, lambda_context)
    assert sizes()["frontend"]["desired"] == 2
    tick("2026-11-27T22:50:00Z", lambda_context)
    assert sizes()["frontend"]["desired"] == 2

    expired = tick("2026-11-27T23:00:00Z", lambda_context)

    assert [s["service"] for s in expired["stopped"]] == [f"{CLUSTER}/frontend"]
    assert sizes()["frontend"]["desired"] == 0


def test_keep_awake_set_at_night_starts_a_held_service(
    platform: dict[str, dict[str, Any]], lambda_context: Any
) -> None:
    tick(FRIDAY_EVENING, lambda_context)
    tag("api-gateway", "steward:keep-awake-until", "2026-11-28T02:00:00Z")

    result = tick(FRIDAY_NIGHT, lambda_context)

    assert [s["service"] for s in result["started"]] == [f"{CLUSTER}/api-gateway"]
    assert sizes()["api-gateway"] == platform["api-gateway"]


def test_removing_the_tag_while_stopped_restores_the_service(
    platform: dict[str, dict[str, Any]], lambda_context: Any
) -> None:
    tick(FRIDAY_EVENING, lambda_context)
    tag("saga-orchestrator", "steward:schedule", None)

    tick(FRIDAY_NIGHT, lambda_context)

    assert sizes()["saga-orchestrator"] == platform["saga-orchestrator"]


def test_no_start_on_a_holiday(platform: dict[str, dict[str, Any]], lambda_context: Any) -> None:
    tick("2026-12-23T19:00:00Z", lambda_context)  # Wednesday evening
    holiday = tick("2026-12-24T08:00:00Z", lambda_context)  # Thursday 09:00 Berlin, a holiday
    assert holiday["started"] == []
    assert all(size["desired"] == 0 for size in sizes().values())
    tick("2026-12-28T06:00:00Z", lambda_context)  # Monday after Christmas
    assert sizes() == platform


def test_dry_run_reports_the_same_decisions_and_changes_nothing(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRY_RUN", "true")

    result = tick(FRIDAY_EVENING, lambda_context)

    assert result["outcome"] == "dry-run"
    assert len(result["stopped"]) == len(REFERENCE_SERVICES)
    assert sizes() == platform
    assert restore_records() == []
    assert slack.messages[0].text.startswith("[dry run] Off-hours: stopped 8")


def test_protected_and_daemon_services_are_skipped_with_reasons(
    aws: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    session = boto3.session.Session()
    ecs, autoscaling = session.client("ecs"), session.client("application-autoscaling")
    ecs.create_cluster(clusterName=CLUSTER)
    scheduled = {"steward:schedule": "office-hours"}
    create_service(ecs, autoscaling, ServiceSpec("frontend", 2), tags=scheduled)
    create_service(
        ecs, autoscaling, ServiceSpec("platform-services", 2), tags={**scheduled, "steward:protected": "true"}
    )
    create_service(ecs, autoscaling, ServiceSpec("log-router", 1), tags=scheduled, scheduling_strategy="DAEMON")

    result = tick(FRIDAY_EVENING, lambda_context)

    skipped = {s["service"]: s["reason"] for s in result["skipped"]}
    assert skipped[f"{CLUSTER}/platform-services"] == "steward:protected=true"
    assert "DAEMON" in skipped[f"{CLUSTER}/log-router"]
    assert sizes()["platform-services"]["desired"] == 2
    skipped_section = next(b for b in slack.messages[0].blocks if "*Skipped*" in b.get("text", {}).get("text", ""))
    assert "steward:protected=true" in skipped_section["text"]["text"]


def test_a_broken_schedules_document_changes_nothing_and_is_reported_once(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: SlackStandIn
) -> None:
    boto3.client("ssm").put_parameter(
        Name=SCHEDULES_PARAMETER,
        Overwrite=True,
        Type="String",
        Value=json.dumps({"office-hours": {"timezone": "Europe/Berlinn"}}),
    )

    first = tick(FRIDAY_EVENING, lambda_context)
    second = tick("2026-11-27T19:10:00Z", lambda_context)

    assert first["outcome"] == second["outcome"] == "schedules-invalid"
    assert "Europe/Berlinn" in first["reason"]
    assert sizes() == platform
    assert len(slack.messages) == 1
    assert "Off-hours paused" in slack.messages[0].text


def test_per_team_channels_get_their_services(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: SlackStandIn
) -> None:
    tag("frontend", "steward:channel", "C0FRONTEND1")

    tick(FRIDAY_EVENING, lambda_context)

    by_channel = {m.body["channel"]: m.text for m in slack.messages}
    assert set(by_channel) == {"C0STEWARD01", "C0FRONTEND1"}
    assert "frontend" in by_channel["C0FRONTEND1"]
    assert "api-gateway" not in by_channel["C0FRONTEND1"]


def test_slack_down_never_blocks_the_action(
    platform: dict[str, dict[str, Any]], lambda_context: Any, slack: SlackStandIn
) -> None:
    slack.down = True

    result = tick(FRIDAY_EVENING, lambda_context)

    assert len(result["stopped"]) == len(REFERENCE_SERVICES)
    assert all(size["desired"] == 0 for size in sizes().values())
