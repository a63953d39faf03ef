"""Spot fallback in a dry run through the real handler: one report per Spot episode, however many signals it brings,
nothing changed but the dry run's own report markers; and going live acts at the next signal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest
from devtools.ecs_overlay import EcsOverlay
from devtools.platform import CLUSTER
from devtools.slack_standin import SlackStandIn

from steward.handlers import spot_fallback
from steward.runtime import shared_aws
from steward.settings import load_settings
from tests.conftest import STATE_TABLE
from tests.integration.test_spot_fallback import INTERRUPTED_AT, SPOT_BASE, add_service, interruption

DEV_SCOPE = {"key": "steward:environment", "value": "dev"}  # the cluster is in the test stack's scope
STABLE = timedelta(minutes=45)  # the template's SpotStableMinutes default, as the test environment leaves it


def at(offset: timedelta) -> str:
    return (INTERRUPTED_AT + offset).isoformat().replace("+00:00", "Z")


def table_records() -> set[str]:
    return {item["sk"]["S"] for item in boto3.client("dynamodb").scan(TableName=STATE_TABLE)["Items"]}


@pytest.fixture
def ecs(aws: None, monkeypatch: pytest.MonkeyPatch) -> EcsOverlay:
    session = boto3.session.Session()
    session.client("ecs").create_cluster(
        clusterName=CLUSTER, capacityProviders=["FARGATE", "FARGATE_SPOT"], tags=[DEV_SCOPE]
    )
    overlay = EcsOverlay(session.client("ecs"))
    shared_aws().use("ecs", overlay)
    monkeypatch.setenv("DRY_RUN", "true")
    add_service(overlay, "llm-orchestrator", SPOT_BASE)
    return overlay


def test_a_dry_run_reports_a_spot_episode_once_however_many_tasks_it_stops(
    ecs: EcsOverlay, lambda_context: Any, slack: SlackStandIn
) -> None:
    # Given a dry run and a Spot interruption that stops three of the service's tasks within a minute
    events = [interruption(task=task, time=at(timedelta(seconds=20 * task))) for task in range(3)]

    # When each task's event arrives
    results = [spot_fallback.lambda_handler(event, lambda_context) for event in events]

    # Then Slack hears of the would-be fallback once, and nothing but the dry run's report marker is written
    assert [r["services"][0]["outcome"] for r in results] == ["would fall back", "reported", "reported"]
    assert slack.messages[0].text.startswith("[dry run] Spot fallback")
    assert len(slack.messages) == 1
    assert ecs.updates == []
    assert table_records() == {"dry-run-spot-fallback"}


def test_a_dry_run_reports_the_next_drought_again(ecs: EcsOverlay, lambda_context: Any, slack: SlackStandIn) -> None:
    # Given a dry run that reported an interruption
    spot_fallback.lambda_handler(interruption(task=0), lambda_context)

    # When the next interruption comes after a quiet stable period (the live episode would have shifted back)
    later = spot_fallback.lambda_handler(interruption(task=1, time=at(STABLE + timedelta(minutes=5))), lambda_context)

    # Then it is a new episode, reported again
    assert later["services"][0]["outcome"] == "would fall back"
    assert len(slack.messages) == 2


def test_going_live_after_a_dry_run_falls_back_at_the_next_signal(
    ecs: EcsOverlay, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a dry run that reported an interruption
    spot_fallback.lambda_handler(interruption(task=0), lambda_context)

    # When DryRun is switched off on the same stack and the drought's next signal arrives
    monkeypatch.setenv("DRY_RUN", "false")
    load_settings.cache_clear()
    live = spot_fallback.lambda_handler(interruption(task=1, time=at(timedelta(minutes=1))), lambda_context)

    # Then the service falls back for real
    assert live["services"][0]["outcome"] == "fell back"
    assert len(ecs.updates) == 1
    assert not slack.messages[-1].text.startswith("[dry run]")
