"""Databases off-hours through the real handler under moto (and the strict layer, which refuses the stops AWS
refuses): the platform's PostgreSQL goes down after its services in the evening, comes up ahead of them in the
morning, stays down through AWS's seven-day automatic start, and what cannot be stopped is said, never tried."""

from __future__ import annotations

import copy
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from devtools.platform import (
    AURORA_CLUSTER,
    AURORA_WRITER,
    DATABASE,
    create_aurora_cluster,
    create_database,
    database_states,
    seed_databases,
    seed_reference_platform,
    service_sizes,
)
from devtools.slack_standin import SlackStandIn

from steward.handlers import off_hours
from tests.conftest import STATE_TABLE, load_event

FRIDAY_EVENING = "2026-11-27T19:00:00Z"  # 20:00 Berlin: office-hours ends, the services stop
FRIDAY_LATER = "2026-11-27T19:10:00Z"  # the next tick: the services are down, the databases stop
MONDAY_EARLY = "2026-11-30T05:45:00Z"  # 15 minutes before office-hours starts: the databases start
MONDAY_MORNING = "2026-11-30T06:00:00Z"  # 07:00 Berlin: the services start
INSTANCE, CLUSTER = f"instance/{DATABASE}", f"cluster/{AURORA_CLUSTER}"


def tick(now: str, context: Any) -> dict[str, Any]:
    return off_hours.lambda_handler({"source": "steward.scheduler", "task": "off-hours-tick", "now": now}, context)


def states() -> dict[str, str]:
    return database_states(boto3.session.Session())


def holds() -> dict[str, dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=STATE_TABLE)["Items"]
    return {
        item["pk"]["S"].removeprefix("database#"): item
        for item in items
        if item["pk"]["S"].startswith("database#") and item["sk"]["S"] == "off-hours" and "stopped_at" in item
    }


def reasons(result: dict[str, Any], group: str) -> dict[str, str]:
    return {line["database"]: line["reason"] for line in result.get("databases", {}).get(group, [])}


@pytest.fixture
def platform(aws: None) -> None:
    session = boto3.session.Session()
    seed_reference_platform(session)
    seed_databases(session)


def test_databases_stop_after_their_services_and_start_ahead_of_them(
    platform: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    evening = tick(FRIDAY_EVENING, lambda_context)

    assert all(size["desired"] == 0 for size in service_sizes(boto3.session.Session()).values())
    assert states()[INSTANCE] == "available", "a database must not stop while its services still run"
    assert evening["databases"]["stopped"] == []

    later = tick(FRIDAY_LATER, lambda_context)

    assert set(reasons(later, "stopped")) == {INSTANCE, CLUSTER}
    assert states()[INSTANCE] == "stopped"
    assert states()[CLUSTER] == "stopped"
    assert set(holds()) == {INSTANCE, CLUSTER}
    assert "Databases stopped (2)" in slack.messages[-1].text or "Databases stopped" in slack.messages[-1].text

    for weekend in ("2026-11-28T12:00:00Z", "2026-11-29T23:50:00Z", "2026-11-30T05:40:00Z"):
        assert tick(weekend, lambda_context)["changed"] == 0

    early = tick(MONDAY_EARLY, lambda_context)

    assert set(reasons(early, "started")) == {INSTANCE, CLUSTER}
    assert all("15 min ahead of its services" in reason for reason in reasons(early, "started").values())
    assert states()[INSTANCE] == "available" and states()[CLUSTER] == "available"
    assert all(size["desired"] == 0 for size in service_sizes(boto3.session.Session()).values())
    assert holds() == {}

    morning = tick(MONDAY_MORNING, lambda_context)

    assert len(morning["started"]) == 8
    assert morning["databases"]["started"] == []


def test_an_aurora_cluster_is_stopped_as_a_whole_never_its_instance(
    platform: None, lambda_context: Any, aws_calls: list[str]
) -> None:
    # Its writer carries the schedule too, as a team tagging "everything postgres" would.
    rds = boto3.client("rds")
    writer_arn = rds.describe_db_instances(DBInstanceIdentifier=AURORA_WRITER)["DBInstances"][0]["DBInstanceArn"]
    tags = {"steward:schedule": "office-hours", "steward:environment": "dev"}
    rds.add_tags_to_resource(ResourceName=writer_arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    tick(FRIDAY_EVENING, lambda_context)

    later = tick(FRIDAY_LATER, lambda_context)

    assert "rds.StopDBCluster" in aws_calls
    assert aws_calls.count("rds.StopDBInstance") == 1, "only the RDS instance; never the cluster's writer"
    assert reasons(later, "skipped")[f"instance/{AURORA_WRITER}"].startswith(f"member of DB cluster {AURORA_CLUSTER}")


def test_what_aws_cannot_stop_is_skipped_with_its_reason_and_never_tried(
    aws: None, lambda_context: Any, aws_calls: list[str]
) -> None:
    rds = boto3.client("rds")
    office = {"steward:schedule": "office-hours"}
    create_database(rds, "source-db", tags=office)
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier="replica-db",
        SourceDBInstanceIdentifier="source-db",
        Tags=[{"Key": "steward:environment", "Value": "dev"}, {"Key": "steward:schedule", "Value": "office-hours"}],
    )
    create_database(rds, "mssql-db", engine="sqlserver-se", tags=office, MultiAZ=True)
    create_aurora_cluster(rds, "serverless-v1", tags=office, EngineMode="serverless")
    create_aurora_cluster(rds, "multi-az-cluster", tags=office, Engine="postgres")

    night = tick(FRIDAY_LATER, lambda_context)

    skipped = reasons(night, "skipped")
    assert skipped["instance/replica-db"].startswith("read replica of source-db")
    assert skipped["instance/source-db"].startswith("source of read replica replica-db")
    assert skipped["instance/mssql-db"] == "Multi-AZ SQL Server: AWS cannot stop it"
    assert skipped["cluster/serverless-v1"] == "Aurora Serverless v1: AWS cannot stop it"
    assert skipped["cluster/multi-az-cluster"].startswith("Multi-AZ DB cluster")
    assert not {"rds.StopDBInstance", "rds.StopDBCluster"} & set(aws_calls)
    assert holds() == {}


def test_a_database_aws_started_after_seven_days_is_stopped_again_once_available(
    platform: None, lambda_context: Any
) -> None:
    tick(FRIDAY_EVENING, lambda_context)
    tick(FRIDAY_LATER, lambda_context)
    _holidays_until("2026-12-13")  # the office is closed for a fortnight: the schedule stays off
    # Day 7: AWS starts the stopped instance (RDS-EVENT-0154); it is `starting`, then available.
    boto3.client("rds").start_db_instance(DBInstanceIdentifier=DATABASE)

    day_seven = tick("2026-12-04T19:20:00Z", lambda_context)

    assert reasons(day_seven, "stopped")[INSTANCE].startswith("started by AWS after 7 days stopped; stopped again")
    assert states()[INSTANCE] == "stopped"
    assert INSTANCE in holds(), "the hold (and what it saves) carries on"


def test_a_database_started_by_hand_at_night_stays_up_until_the_next_edge(platform: None, lambda_context: Any) -> None:
    tick(FRIDAY_EVENING, lambda_context)
    tick(FRIDAY_LATER, lambda_context)
    boto3.client("rds").start_db_instance(DBInstanceIdentifier=DATABASE)  # someone needs it on Saturday

    saturday = tick("2026-11-28T10:00:00Z", lambda_context)

    assert states()[INSTANCE] == "available"
    assert saturday["changed"] == 0
    # At the morning's start it is already up: the hold ends without a call; the evening stops it again.
    early = tick(MONDAY_EARLY, lambda_context)
    assert holds() == {}
    assert set(reasons(early, "started")) == {CLUSTER}, "the instance was up already; only the cluster starts"
    tick("2026-11-30T19:00:00Z", lambda_context)
    tick("2026-11-30T19:10:00Z", lambda_context)
    assert states()[INSTANCE] == "stopped"


def test_only_what_steward_stopped_is_started(aws: None, lambda_context: Any) -> None:
    rds = boto3.client("rds")
    create_database(rds, "stopped-by-hand", tags={"steward:schedule": "office-hours"})
    rds.stop_db_instance(DBInstanceIdentifier="stopped-by-hand")

    tick(FRIDAY_LATER, lambda_context)
    tick(MONDAY_EARLY, lambda_context)

    assert states()["instance/stopped-by-hand"] == "stopped"


def test_a_stop_aws_refuses_is_said_once_and_tried_again_only_at_the_next_off_edge(
    platform: None, lambda_context: Any, aws_calls: list[str]
) -> None:
    refused = ClientError(
        {"Error": {"Code": "InvalidParameterCombination", "Message": "not eligible"}, "ResponseMetadata": {}},
        "StopDBInstance",
    )
    tick(FRIDAY_EVENING, lambda_context)
    with mock.patch("steward.adapters.rds.Rds.stop", side_effect=refused):
        first = tick(FRIDAY_LATER, lambda_context)
        second = tick("2026-11-27T19:20:00Z", lambda_context)

    assert set(reasons(first, "failed")) == {INSTANCE, CLUSTER}
    assert reasons(second, "failed") == {}
    assert holds() == {}
    assert states()[INSTANCE] == "available"


def test_duplicate_ticks_stop_a_database_once(platform: None, lambda_context: Any, aws_calls: list[str]) -> None:
    tick(FRIDAY_EVENING, lambda_context)
    aws_calls.clear()

    tick(FRIDAY_LATER, lambda_context)
    tick(FRIDAY_LATER, lambda_context)

    assert aws_calls.count("rds.StopDBInstance") == 1
    assert aws_calls.count("rds.StopDBCluster") == 1


def _holidays_until(last: str) -> None:
    """Every day from the Friday to `last` a holiday of office-hours (a closed fortnight)."""
    import json
    from datetime import date, timedelta

    from tests.conftest import OFFICE_HOURS, SCHEDULES_PARAMETER

    start, end = date(2026, 11, 28), date.fromisoformat(last)
    days = [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]
    document = {"office-hours": {**OFFICE_HOURS["office-hours"], "holidays": days}}
    boto3.client("ssm").put_parameter(
        Name=SCHEDULES_PARAMETER, Type="String", Value=json.dumps(document), Overwrite=True
    )


def database_event(event_id: str, now: str) -> dict[str, Any]:
    """The captured RDS-EVENT-0154 sample, about the platform's instance; the 'started' variant (RDS-EVENT-0088, no
    public EventBridge capture) is derived from it with the event list's text."""
    event = copy.deepcopy(load_event("off_hours/DatabaseEvent--instance-auto-started.json"))
    arn = boto3.client("rds").describe_db_instances(DBInstanceIdentifier=DATABASE)["DBInstances"][0]["DBInstanceArn"]
    event.update(time=now, resources=[arn], account=arn.split(":")[4])
    event["detail"].update(SourceArn=arn, SourceIdentifier=DATABASE, EventID=event_id)
    if event_id == "RDS-EVENT-0088":
        event["detail"]["Message"] = "DB instance started."
    return event


def test_aws_announcing_its_automatic_start_gets_the_database_stopped_again_once_it_has_started(
    platform: None, lambda_context: Any
) -> None:
    tick(FRIDAY_EVENING, lambda_context)
    tick(FRIDAY_LATER, lambda_context)
    _holidays_until("2026-12-13")

    # AWS says it is starting the held instance (twice: EventBridge delivers at least once), then that it started.
    noted = off_hours.lambda_handler(database_event("RDS-EVENT-0154", "2026-12-01T10:00:00Z"), lambda_context)
    again = off_hours.lambda_handler(database_event("RDS-EVENT-0154", "2026-12-01T10:00:00Z"), lambda_context)
    boto3.client("rds").start_db_instance(DBInstanceIdentifier=DATABASE)
    started = off_hours.lambda_handler(database_event("RDS-EVENT-0088", "2026-12-01T10:09:00Z"), lambda_context)

    assert (noted["outcome"], again["outcome"]) == ("noted", "already-noted")
    assert reasons(started, "stopped")[INSTANCE].startswith("started by AWS after 7 days stopped; stopped again")
    assert states()[INSTANCE] == "stopped"


def test_a_database_started_by_hand_is_left_running_when_its_started_event_arrives(
    platform: None, lambda_context: Any
) -> None:
    tick(FRIDAY_EVENING, lambda_context)
    tick(FRIDAY_LATER, lambda_context)
    boto3.client("rds").start_db_instance(DBInstanceIdentifier=DATABASE)

    started = off_hours.lambda_handler(database_event("RDS-EVENT-0088", "2026-11-28T09:00:00Z"), lambda_context)

    assert started["changed"] == 0
    assert states()[INSTANCE] == "available"


def test_a_cluster_started_by_hand_is_left_running_when_its_cluster_started_event_arrives(
    platform: None, lambda_context: Any
) -> None:
    # Given the Aurora cluster held stopped for the night, then started by hand
    tick(FRIDAY_EVENING, lambda_context)
    tick(FRIDAY_LATER, lambda_context)
    rds = boto3.client("rds")
    rds.start_db_cluster(DBClusterIdentifier=AURORA_CLUSTER)
    arn = rds.describe_db_clusters(DBClusterIdentifier=AURORA_CLUSTER)["DBClusters"][0]["DBClusterArn"]

    # When RDS says the cluster started: the Aurora User Guide's DB cluster event with this cluster's ids, RDS-EVENT-0151
    # and the event list's text for it
    event = copy.deepcopy(load_event("unmatched/rds-cluster-patched.json"))
    event.update(time="2026-11-28T09:00:00Z", resources=[arn], account=arn.split(":")[4])
    event["detail"].update(
        SourceArn=arn, SourceIdentifier=f"rds:{AURORA_CLUSTER}", EventID="RDS-EVENT-0151", Message="DB cluster started."
    )
    started = off_hours.lambda_handler(event, lambda_context)

    # Then it is read as the cluster's event, and the cluster keeps running
    assert started["outcome"] != "rejected", started
    assert started["changed"] == 0
    assert states()[CLUSTER] == "available"


def test_an_event_about_a_database_this_stack_does_not_hold_changes_nothing(
    platform: None, lambda_context: Any, aws_calls: list[str]
) -> None:
    event = database_event("RDS-EVENT-0088", "2026-11-28T09:00:00Z")
    aws_calls.clear()

    result = off_hours.lambda_handler(event, lambda_context)

    assert result["outcome"] == "not-held"
    assert not [call for call in aws_calls if call.startswith("rds.")]


def test_a_dry_run_reports_each_databases_stop_and_its_early_start_once_and_changes_nothing(
    platform: None, lambda_context: Any, monkeypatch: pytest.MonkeyPatch, aws_calls: list[str]
) -> None:
    # Given a dry-run stack
    monkeypatch.setenv("DRY_RUN", "true")
    from steward.settings import load_settings

    load_settings.cache_clear()

    # When it ticks through the evening, the night and Monday's early start
    nights = ["2026-11-27T19:00:00Z", "2026-11-27T19:10:00Z", "2026-11-27T19:20:00Z", "2026-11-28T12:00:00Z"]
    results = [tick(now, lambda_context) for now in [*nights, "2026-11-30T05:45:00Z", "2026-11-30T05:55:00Z"]]

    # Then each database's would-be stop and would-be start is reported once, and nothing was stopped
    stops = [set(reasons(result, "stopped")) for result in results]
    starts = [set(reasons(result, "started")) for result in results]
    assert stops == [set(), {INSTANCE, CLUSTER}, set(), set(), set(), set()]
    assert starts == [set(), set(), set(), set(), {INSTANCE, CLUSTER}, set()]
    assert set(states().values()) == {"available"}
    assert not [call for call in aws_calls if call.startswith(("rds.Stop", "rds.Start"))]


def test_an_unreadable_tag_on_a_database_keeps_it_running_and_is_said_once_a_day_with_the_rds_fix(
    platform: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    # Given the platform's instance with a misspelt schedule name
    rds = boto3.client("rds")
    arn = rds.describe_db_instances(DBInstanceIdentifier=DATABASE)["DBInstances"][0]["DBInstanceArn"]
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "steward:schedule", "Value": "office-hourz"}])

    # When the evening's ticks run, and the next day's first one
    tick(FRIDAY_EVENING, lambda_context)
    tick(FRIDAY_LATER, lambda_context)
    tick("2026-11-27T19:20:00Z", lambda_context)
    said_friday = [m.text for m in slack.messages if m.text.startswith("Tags Steward cannot read")]
    tick("2026-11-28T00:10:00Z", lambda_context)
    said = [m.text for m in slack.messages if m.text.startswith("Tags Steward cannot read")]

    # Then the instance keeps running (the cluster, readable, stops), and Slack heard once that day, with the value
    # and the command that fixes it, and once more the next day
    assert states()[INSTANCE] == "available" and states()[CLUSTER] == "stopped"
    [notice] = said_friday
    assert notice.startswith("Tags Steward cannot read: 1 database")
    assert f"{INSTANCE}: steward:schedule='office-hourz'" in notice
    assert (
        f"aws rds add-tags-to-resource --resource-name {arn} --tags Key=steward:schedule,Value=office-hours" in notice
    )
    assert len(said) == 2
