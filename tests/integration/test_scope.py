"""Two stacks in one account: dev and staging, each with its own state table, against one moto. Each acts only on
the services its scope holds (steward:environment on the service, else on its cluster); a service with no
steward:environment is never touched; a stack still brings back what it holds after the service left its scope."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from devtools.platform import ServiceSpec, create_service, service_sizes
from devtools.slack_standin import SlackStandIn
from devtools.template import create_state_table

from steward.handlers import deploy_rollback, off_hours, spot_fallback
from steward.settings import load_settings
from tests.conftest import STATE_TABLE, load_event

SHARED = "shared"  # a cluster without steward:environment: its services say which stack they belong to
STAGING = "staging-apps"  # a cluster tagged staging: its services belong to the staging stack unless they say else
STAGING_TABLE = "steward-staging-state"
OFF_EDGE = "2026-11-27T19:00:00Z"  # Friday 20:00 in Berlin: office-hours stops
START_EDGE = "2026-11-30T06:00:00Z"  # Monday 07:00 in Berlin: office-hours starts
SCHEDULED = {"steward:schedule": "office-hours", "steward:spot-fallback": "on"}


class Stacks:
    """Runs the real handlers as the dev or the staging stack: environment, state table and settings switch."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, context: Any) -> None:
        self._monkeypatch, self._context = monkeypatch, context

    def _as(self, environment: str) -> None:
        table = STATE_TABLE if environment == "dev" else STAGING_TABLE
        self._monkeypatch.setenv("STEWARD_ENVIRONMENT", environment)
        self._monkeypatch.setenv("STATE_TABLE", table)
        load_settings.cache_clear()  # a different stack: its settings are read afresh, as its own cold start would

    def tick(self, environment: str, now: str) -> dict[str, Any]:
        self._as(environment)
        return off_hours.lambda_handler(
            {"source": "steward.scheduler", "task": "off-hours-tick", "now": now}, self._context
        )

    def spot(self, environment: str, event: dict[str, Any]) -> dict[str, Any]:
        self._as(environment)
        return spot_fallback.lambda_handler(event, self._context)

    def rollback(self, environment: str, event: dict[str, Any]) -> dict[str, Any]:
        self._as(environment)
        return deploy_rollback.lambda_handler(event, self._context)


def untagged_service(name: str, cluster: str) -> None:
    """A service with no steward:environment at all, created without the reference platform's default tags."""
    ecs = boto3.client("ecs")
    ecs.register_task_definition(
        family=name, containerDefinitions=[{"name": name, "image": f"{name}:1", "essential": True, "memory": 512}]
    )
    tags = [{"key": key, "value": value} for key, value in SCHEDULED.items()]
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=name, desiredCount=2, tags=tags)


@pytest.fixture
def stacks(aws: None, monkeypatch: pytest.MonkeyPatch, lambda_context: Any) -> Iterator[Stacks]:
    """Given a dev stack (the tests' table) and a staging stack (its own table) in one account, and services:
    web-dev (tagged dev), web-staging (tagged staging) and batch (untagged) in an untagged cluster, and api in a
    cluster tagged staging."""
    session = boto3.session.Session()
    create_state_table(session.client("dynamodb"), STAGING_TABLE)
    ecs, scaling = session.client("ecs"), session.client("application-autoscaling")
    ecs.create_cluster(clusterName=SHARED, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    ecs.create_cluster(
        clusterName=STAGING,
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
        tags=[{"key": "steward:environment", "value": "Staging "}],  # any case, spaces around it ignored
    )
    create_service(ecs, scaling, ServiceSpec("web-dev", 2), cluster=SHARED, tags=SCHEDULED)
    staging = {**SCHEDULED, "steward:environment": "staging"}
    create_service(ecs, scaling, ServiceSpec("web-staging", 2), cluster=SHARED, tags=staging)
    untagged_service("batch", SHARED)
    untagged_service("api", STAGING)
    yield Stacks(monkeypatch, lambda_context)


def desired(cluster: str = SHARED) -> dict[str, int]:
    return {name: size["desired"] for name, size in service_sizes(boto3.session.Session(), cluster).items()}


def records(table: str) -> set[str]:
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return {item["pk"]["S"].removeprefix("service#") for item in items if item["pk"]["S"].startswith("service#")}


def footers(slack: SlackStandIn) -> list[str]:
    return [message.blocks[-1]["elements"][0]["text"] for message in slack.messages]


def test_each_stack_stops_only_its_own_services_and_an_untagged_service_is_never_touched(
    stacks: Stacks, slack: SlackStandIn
) -> None:
    # When both stacks reach the off edge
    stacks.tick("dev", OFF_EDGE)
    stacks.tick("staging", OFF_EDGE)

    # Then dev stopped web-dev, staging stopped web-staging and api (by its cluster's tag), nobody touched batch
    assert desired() == {"web-dev": 0, "web-staging": 0, "batch": 2}
    assert desired(STAGING) == {"api": 0}
    assert records(STATE_TABLE) == {f"{SHARED}/web-dev"}
    assert records(STAGING_TABLE) == {f"{SHARED}/web-staging", f"{STAGING}/api"}
    # And each stack's report says whose it is
    assert footers(slack)[0].startswith("dev · all clusters")
    assert footers(slack)[1].startswith("staging · all clusters")

    # When both reach the start edge, each brings back its own, and batch still was never touched
    stacks.tick("dev", START_EDGE)
    stacks.tick("staging", START_EDGE)
    assert desired() == {"web-dev": 2, "web-staging": 2, "batch": 2}
    assert desired(STAGING) == {"api": 2}


def test_a_stack_limited_to_named_clusters_leaves_its_environment_elsewhere_alone(
    stacks: Stacks, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the staging stack names only the staging-apps cluster
    monkeypatch.setenv("SCOPE_CLUSTERS", STAGING)

    stacks.tick("staging", OFF_EDGE)

    assert desired() == {"web-dev": 2, "web-staging": 2, "batch": 2}
    assert desired(STAGING) == {"api": 0}


def test_a_service_held_by_one_stack_is_restored_by_it_after_its_tag_moved_it_to_the_other(
    stacks: Stacks, slack: SlackStandIn
) -> None:
    # Given dev stopped web-dev at the off edge, and then web-dev was retagged staging
    stacks.tick("dev", OFF_EDGE)
    arn = boto3.client("ecs").describe_services(cluster=SHARED, services=["web-dev"])["services"][0]["serviceArn"]
    boto3.client("ecs").tag_resource(resourceArn=arn, tags=[{"key": "steward:environment", "value": "staging"}])

    # When both stacks tick through the night and reach the start edge
    stacks.tick("staging", "2026-11-28T12:00:00Z")
    stacks.tick("dev", "2026-11-28T12:00:00Z")
    assert desired()["web-dev"] == 0
    stacks.tick("staging", START_EDGE)
    stacks.tick("dev", START_EDGE)

    # Then dev, which holds it, brought it back to its size, and said so as the dev stack
    assert desired()["web-dev"] == 2
    started = [m for m in slack.messages if m.text.startswith("Off-hours")][-1]
    assert "started 1" in started.text
    assert started.blocks[-1]["elements"][0]["text"].startswith("dev · all clusters")


def spot_interruption(cluster: str, service: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("spot_fallback/FargateSpotTaskStopped--spot-interruption.json"))
    event["detail"].update(
        clusterArn=f"arn:aws:ecs:eu-central-1:123456789012:cluster/{cluster}", group=f"service:{service}"
    )
    return event


def test_spot_fallback_acts_only_for_the_stack_whose_scope_holds_the_service(
    stacks: Stacks, slack: SlackStandIn
) -> None:
    for name in ("web-dev", "web-staging", "batch"):
        boto3.client("ecs").update_service(
            cluster=SHARED,
            service=name,
            capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
            forceNewDeployment=True,
        )

    # When each stack receives the interruption of each service
    outcomes = {
        (stack, name): stacks.spot(stack, spot_interruption(SHARED, name))["services"][0]["outcome"]
        for stack in ("dev", "staging")
        for name in ("web-dev", "web-staging", "batch")
    }

    # Then only the owner falls back; the others ignore it, say nothing and keep nothing in their table
    assert outcomes == {
        ("dev", "web-dev"): "fell back",
        ("dev", "web-staging"): "ignored",
        ("dev", "batch"): "ignored",
        ("staging", "web-dev"): "ignored",
        ("staging", "web-staging"): "fell back",
        ("staging", "batch"): "ignored",
    }
    assert records(STATE_TABLE) == {f"{SHARED}/web-dev"}
    assert records(STAGING_TABLE) == {f"{SHARED}/web-staging"}
    assert len(slack.messages) == 2
    assert sorted(f.split(" · ")[0] for f in footers(slack)) == ["dev", "staging"]


def alarm_for(service: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("deploy_rollback/AlarmFired--service-metric.json"))
    metric = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
    metric["dimensions"] = {"ClusterName": SHARED, "ServiceName": service}
    event["detail"]["alarmName"] = f"{service}-5xx"
    event["resources"] = [f"arn:aws:cloudwatch:eu-central-1:123456789012:alarm:{service}-5xx"]
    return event


def deployment_of(service: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("deploy_rollback/DeploymentChanged--in-progress.json"))
    event["resources"] = [f"arn:aws:ecs:eu-central-1:123456789012:service/{SHARED}/{service}"]
    return event


def test_rollback_and_deployment_history_ignore_services_outside_the_stacks_scope(
    stacks: Stacks, slack: SlackStandIn
) -> None:
    # When the dev stack hears of deployments and alarms of staging's and of the untagged service
    results = [
        stacks.rollback("dev", event)
        for name in ("web-staging", "batch")
        for event in (deployment_of(name), alarm_for(name))
    ]

    # Then it records nothing, rolls nothing back and says nothing
    assert [result["outcome"] for result in results] == ["ignored"] * 4
    assert all("not in this stack's scope (dev · all clusters)" in result["reason"] for result in results)
    assert records(STATE_TABLE) == set()
    assert slack.messages == []

    # While the owner records its own service's deployment
    assert stacks.rollback("staging", deployment_of("web-staging"))["outcome"] == "recorded"
    assert records(STAGING_TABLE) == {f"{SHARED}/web-staging"}
