"""AWS requests per run for Spot fallback, rollback, budget alert and the cost digest, counted with botocore's
event hooks (Steward's own client counter), against the naive per-service approaches. Every request meets the AWS
rules moto does not check (devtools.strict), "today" being the day of the event handled."""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
from devtools.ecs_overlay import EcsOverlay, spot_service_behind_overlay
from devtools.lambda_context import LambdaContext
from devtools.platform import CLUSTER
from devtools.strict import installed
from devtools.template import create_state_table
from moto import mock_aws
from moto.ce.models import ce_backends
from moto.core import DEFAULT_ACCOUNT_ID

EVENTS = Path(__file__).resolve().parent.parent / "events"
STATE_TABLE = "steward-bench-state"


@dataclass
class Figure:
    scenario: str
    requests: int
    target: str
    naive: int | None
    note: str = ""


def _env() -> None:
    os.environ.update(
        {
            "STEWARD_ENVIRONMENT": "dev",
            "DRY_RUN": "false",
            "STATE_TABLE": STATE_TABLE,
            "SLACK_TOKEN_SECRET_ARN": "",
            "SLACK_CHANNEL": "",
            "SCHEDULES_PARAMETER": "/bench/schedules",
            "MOTO_ECS_SERVICE_RUNNING": "1000",
            "BUDGET_ACTIONS": "{}",
        }
    )


@contextmanager
def fresh() -> Iterator[Any]:
    from aws_lambda_powertools.utilities import parameters

    from steward.runtime import shared_aws
    from steward.settings import load_settings

    _env()
    with mock_aws(), installed():
        load_settings.cache_clear()
        shared_aws.cache_clear()
        parameters.clear_caches()
        create_state_table(boto3.client("dynamodb"), STATE_TABLE)
        yield shared_aws()


def _load(relative: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / relative).read_text())
    return loaded


def spot() -> list[Figure]:
    from steward.handlers import spot_fallback

    with fresh() as aws:
        strategy = [{"capacityProvider": "FARGATE_SPOT", "base": 1, "weight": 1}]
        overlay = spot_service_behind_overlay(boto3.session.Session(), "llm-orchestrator", strategy)
        aws.use("ecs", overlay)
        event = _load("spot_fallback/FargateSpotTaskStopped--spot-interruption.json")
        spot_fallback.lambda_handler(event, LambdaContext(function_name="bench"))
        before_update = aws.total_calls + sum(n for call, n in overlay.calls.items() if call != "update_service")
        after_first = aws.total_calls + sum(overlay.calls.values())
        duplicate = copy.deepcopy(event)
        duplicate["detail"]["version"] = 4
        spot_fallback.lambda_handler(duplicate, LambdaContext(function_name="bench"))
        dup = aws.total_calls + sum(overlay.calls.values()) - after_first
    return [
        Figure("Spot fallback, first signal (before UpdateService)", before_update, "≤ 4", None),
        Figure("Spot fallback, each duplicate signal", dup, "≤ 1", None),
    ]


def rollback() -> list[Figure]:
    from steward.handlers import deploy_rollback

    with fresh() as aws:
        client = boto3.client("ecs")
        client.create_cluster(clusterName=CLUSTER)
        revisions = [
            client.register_task_definition(
                family="api-gateway", containerDefinitions=[{"name": "api", "image": f"api:{n}", "memory": 512}]
            )["taskDefinition"]["taskDefinitionArn"]
            for n in (1, 2)
        ]
        client.create_service(cluster=CLUSTER, serviceName="api-gateway", taskDefinition=revisions[0], desiredCount=2)
        overlay = EcsOverlay(client)
        aws.use("ecs", overlay)
        template = _load("deploy_rollback/DeploymentChanged--in-progress.json")
        base = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
        for number, revision in enumerate(revisions):
            at = base + timedelta(hours=number)
            deployment_id = overlay.deploy(CLUSTER, "api-gateway", revision, at=at)
            overlay.complete(CLUSTER, "api-gateway")
            for status, name in (
                ("IN_PROGRESS", "SERVICE_DEPLOYMENT_IN_PROGRESS"),
                ("COMPLETED", "SERVICE_DEPLOYMENT_COMPLETED"),
            ):
                event = copy.deepcopy(template)
                event["resources"] = [f"arn:aws:ecs:eu-central-1:123456789012:service/{CLUSTER}/api-gateway"]
                event["detail"].update(
                    eventName=name,
                    deploymentId=deployment_id,
                    updatedAt=(at + timedelta(minutes=5 if status == "COMPLETED" else 0)).isoformat(),
                )
                deploy_rollback.lambda_handler(event, LambdaContext(function_name="bench"))
        before = aws.total_calls + sum(overlay.calls.values())
        alarm = _load("deploy_rollback/AlarmFired--service-metric.json")
        alarm["detail"]["state"]["timestamp"] = "2026-11-27T11:20:00.000+0000"
        result = deploy_rollback.lambda_handler(alarm, LambdaContext(function_name="bench"))
        assert result["outcome"] == "rolled back", result
        alarm_requests = aws.total_calls + sum(overlay.calls.values()) - before
    return [
        Figure("Rollback on an alarm (incl. UpdateService)", alarm_requests, "—", None, "one service, any history size")
    ]


def budget() -> list[Figure]:
    from steward.handlers import budget_alert

    with fresh() as aws:
        budget_alert.lambda_handler(
            _load("budget_alert/BudgetNotification--monthly-actual-80.json"), LambdaContext(function_name="bench")
        )
        requests = aws.total_calls
    return [Figure("Budget alert (80 %, no action)", requests, "1 Cost Explorer request", None)]


def digest(sizes: tuple[int, ...] = (10, 100, 500)) -> list[Figure]:
    from botocore.awsrequest import AWSResponse

    from steward.handlers import cost_report

    figures = []
    for services in sizes:
        with fresh() as aws:
            pages = _queue_digest_pages(services)
            aws.ce.meta.events.register(
                "before-call.ce.GetCostForecast",
                lambda **kwargs: (
                    AWSResponse("http://127.0.0.1/", 200, {}, None),
                    {"Total": {"Amount": "400", "Unit": "USD"}},
                ),
            )
            cost_report.lambda_handler(
                {"source": "steward.scheduler", "task": "cost-digest", "now": "2026-11-28T07:30:00Z"},
                LambdaContext(function_name="bench"),
            )
            ce = aws.calls["ce.GetCostAndUsage"] + aws.calls["ce.GetCostForecast"]
            figures.append(
                Figure(
                    f"Cost digest, {services} services: Cost Explorer requests",
                    ce,
                    f"= {pages} page(s) + 1",
                    services + 1,
                    f"{pages} result page(s)",
                )
            )
    return figures


def _queue_digest_pages(services: int, groups_per_page: int = 5000) -> int:
    """28 days × `services` tag values, split into Cost Explorer-sized pages chained by NextPageToken."""
    start = date(2026, 11, 1)
    results = []
    for day in (start + timedelta(days=n) for n in range(27)):
        for index in range(services):
            results.append((day, f"service-{index:03d}", f"{(index % 17) + 0.5:.2f}"))
    pages = [results[i : i + groups_per_page] for i in range(0, len(results), groups_per_page)]
    queue = ce_backends[DEFAULT_ACCOUNT_ID]["global"].cost_usage_results_queue
    for number, page in enumerate(pages):
        by_day: dict[date, list[dict[str, Any]]] = {}
        for day, name, amount in page:
            by_day.setdefault(day, []).append(
                {
                    "Keys": [f"service${name}", "Amazon Elastic Container Service"],
                    "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}},
                }
            )
        body: dict[str, Any] = {
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()},
                    "Groups": groups,
                    "Estimated": False,
                }
                for d, groups in by_day.items()
            ]
        }
        if number + 1 < len(pages):
            body["NextPageToken"] = f"page-{number + 2}"
        queue.append(body)
    return len(pages)


def digest_speed(services: int = 500, runs: int = 20) -> float:
    """Median milliseconds to build and render the digest for `services` services (28 days of rows)."""
    from steward.domain.costs import CostRow, build_digest
    from steward.reports.cost_report import render_digest

    start = date(2026, 11, 1)
    rows = [
        CostRow(start + timedelta(days=d), f"service-{i:03d}", Decimal(f"{(i % 17) + 0.5:.2f}"), "USD")
        for d in range(27)
        for i in range(services)
    ]
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        render_digest(build_digest(rows, date(2026, 11, 28), forecast=(Decimal(400), "USD"), budget=None), "dev", 10)
        timings.append((time.perf_counter() - began) * 1000)
    return sorted(timings)[len(timings) // 2]
