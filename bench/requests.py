"""AWS requests per run for Spot fallback, rollback, budget alert and the cost digest, counted with botocore's
event hooks (Steward's own client counter), against the naive per-service approaches. Every request meets the AWS
rules moto does not check (devtools.strict), "today" being the day of the event handled."""

from __future__ import annotations

import copy
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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
    calls: dict[str, int] = field(default_factory=dict)  # every request of the run, by service.Operation
    seconds: float = 0.0  # in-process wall time of the run against moto


def _env() -> None:
    os.environ.update(
        {
            "STEWARD_ENVIRONMENT": "dev",
            "DRY_RUN": "false",
            "STATE_TABLE": STATE_TABLE,
            "SLACK_TOKEN_SECRET_ARN": "",
            "SLACK_CHANNEL": "",
            "SCHEDULES_PARAMETER": "/bench/schedules",
            "PAUSE_PARAMETER": "/bench/pause",  # as the template sets it: read every tick
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
        started = time.perf_counter()
        spot_fallback.lambda_handler(event, LambdaContext(function_name="bench"))
        first_seconds = time.perf_counter() - started
        before_update = aws.total_calls + sum(n for call, n in overlay.calls.items() if call != "update_service")
        after_first = aws.total_calls + sum(overlay.calls.values())
        first_calls = _calls(aws, overlay)
        duplicate = copy.deepcopy(event)
        duplicate["detail"]["version"] = 4
        started = time.perf_counter()
        spot_fallback.lambda_handler(duplicate, LambdaContext(function_name="bench"))
        dup_seconds = time.perf_counter() - started
        dup = aws.total_calls + sum(overlay.calls.values()) - after_first
        dup_calls = dict(Counter(_calls(aws, overlay)) - Counter(first_calls))
    return [
        Figure(
            "Spot fallback, first signal (before UpdateService)",
            before_update,
            "≤ 4",
            None,
            calls=first_calls,
            seconds=first_seconds,
        ),
        Figure("Spot fallback, each duplicate signal", dup, "≤ 1", None, calls=dup_calls, seconds=dup_seconds),
    ]


def _calls(aws: Any, overlay: Any) -> dict[str, int]:
    """Steward's client counter plus the ECS requests a stand-in overlay served (named like botocore's)."""
    calls = Counter(aws.calls)
    for name, count in overlay.calls.items():
        calls["ecs." + "".join(part.title() for part in name.split("_"))] += count
    return dict(calls)


def rollback() -> list[Figure]:
    from steward.handlers import deploy_rollback

    with fresh() as aws:
        client = boto3.client("ecs")
        # The cluster's steward:environment puts its services in the dev stack's scope (the stack the bench runs as).
        client.create_cluster(clusterName=CLUSTER, tags=[{"key": "steward:environment", "value": "dev"}])
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
        event_seconds = 0.0
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
                started = time.perf_counter()
                deploy_rollback.lambda_handler(event, LambdaContext(function_name="bench"))
                event_seconds += time.perf_counter() - started
        before = aws.total_calls + sum(overlay.calls.values())
        before_calls = _calls(aws, overlay)
        alarm = _load("deploy_rollback/AlarmFired--service-metric.json")
        alarm["detail"]["state"]["timestamp"] = "2026-11-27T11:20:00.000+0000"
        started = time.perf_counter()
        result = deploy_rollback.lambda_handler(alarm, LambdaContext(function_name="bench"))
        alarm_seconds = time.perf_counter() - started
        assert result["outcome"] == "rolled back", result
        alarm_requests = aws.total_calls + sum(overlay.calls.values()) - before
        alarm_calls = dict(Counter(_calls(aws, overlay)) - Counter(before_calls))
    events = 2 * len(revisions)
    return [
        Figure(
            "Rollback on an alarm (incl. UpdateService)",
            alarm_requests,
            "—",
            None,
            "one service, any history size",
            calls=alarm_calls,
            seconds=alarm_seconds,
        ),
        Figure(
            "Deployment event recorded (mean of 4)",
            round(before / events),
            "—",
            None,
            calls={name: round(count / events) for name, count in before_calls.items()},
            seconds=event_seconds / events,
        ),
    ]


def budget() -> list[Figure]:
    from steward.handlers import budget_alert

    with fresh() as aws:
        started = time.perf_counter()
        budget_alert.lambda_handler(
            _load("budget_alert/BudgetNotification--monthly-actual-80.json"), LambdaContext(function_name="bench")
        )
        seconds = time.perf_counter() - started
        requests = aws.total_calls
    return [
        Figure(
            "Budget alert (80 %, no action)",
            requests,
            "1 Cost Explorer request",
            None,
            calls=dict(aws.calls),
            seconds=seconds,
        )
    ]


def answer_forecast(aws: Any, amount: str) -> None:
    """moto has no GetCostForecast: Steward's client gets this month-end figure instead."""
    from botocore.awsrequest import AWSResponse

    aws.ce.meta.events.register(
        "before-call.ce.GetCostForecast",
        lambda **kwargs: (
            AWSResponse("http://127.0.0.1/", 200, {}, None),
            {"Total": {"Amount": amount, "Unit": "USD"}},
        ),
    )


def digest(sizes: tuple[int, ...] = (10, 100, 500)) -> list[Figure]:

    from steward.handlers import cost_report

    figures = []
    for services in sizes:
        with fresh() as aws:
            pages = _queue_digest_pages(services)
            answer_forecast(aws, "400")
            started = time.perf_counter()
            cost_report.lambda_handler(
                {"source": "steward.scheduler", "task": "cost-digest", "now": "2026-11-28T07:30:00Z"},
                LambdaContext(function_name="bench"),
            )
            seconds = time.perf_counter() - started
            ce = aws.calls["ce.GetCostAndUsage"] + aws.calls["ce.GetCostForecast"]
            figures.append(
                Figure(
                    f"Cost digest, {services} services: Cost Explorer requests",
                    ce,
                    f"= {pages} page(s) + 1",
                    services + 1,
                    f"{pages} result page(s)",
                    calls=dict(aws.calls),
                    seconds=seconds,
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


# AWS publishes no page size for GetCostAndUsage groups; the bench assumes 5,000 groups a page, as for the digest.
ORG_GROUPS_PER_PAGE = 5000


def org_digest(accounts: int = 50, services: int = 100) -> list[Figure]:
    """The organisation digest from the management account: one query grouped by linked account and cost tag (27 days
    × accounts × services groups, ORG_GROUPS_PER_PAGE a page) and one forecast; and its build-and-render time."""

    from steward.handlers import org_digest as handler

    with fresh() as aws, installed() as layer:
        layer.today = date(2026, 11, 28)
        organizations = boto3.client("organizations")
        organizations.create_organization(FeatureSet="ALL")
        for number in range(1, accounts):  # the management account is the organisation's first
            organizations.create_account(Email=f"member-{number}@example.com", AccountName=f"member-{number}")
        ids = [
            account["Id"]
            for page in organizations.get_paginator("list_accounts").paginate()
            for account in page["Accounts"]
        ]
        os.environ["TEAM_CHANNELS"] = json.dumps({f"service-{index:03d}": "C0TEAM00001" for index in range(10)})
        pages = _queue_org_pages(ids, services)
        answer_forecast(aws, "40000")
        started = time.perf_counter()
        handler.lambda_handler(
            {"source": "steward.scheduler", "task": "cost-digest", "now": "2026-11-28T07:30:00Z"},
            LambdaContext(function_name="bench"),
        )
        seconds = time.perf_counter() - started
        ce = aws.calls["ce.GetCostAndUsage"] + aws.calls["ce.GetCostForecast"]
        del os.environ["TEAM_CHANNELS"]
    render_ms = org_digest_speed(accounts, services)
    return [
        Figure(
            f"Org digest, {accounts} accounts × {services} services (rendered in {render_ms:.0f} ms; "
            f"{ORG_GROUPS_PER_PAGE:,} groups a page assumed, AWS publishes none): Cost Explorer requests",
            ce,
            f"= {pages} page(s) + 1",
            accounts * 2,  # each account's own query and forecast
            f"{pages} result page(s), {aws.calls['organizations.ListAccounts']} ListAccounts page(s)",
            calls=dict(aws.calls),
            seconds=seconds,
        )
    ]


def _org_rows(accounts: list[str], services: int) -> list[tuple[date, str, str, str]]:
    start = date(2026, 11, 1)
    return [
        (start + timedelta(days=day), account, f"service-{index:03d}", f"{(index % 17) + 0.5:.2f}")
        for day in range(27)
        for account in accounts
        for index in range(services)
    ]


def _queue_org_pages(accounts: list[str], services: int) -> int:
    """27 days × accounts × services (linked account, tag) groups in pages chained by NextPageToken."""
    results = _org_rows(accounts, services)
    pages = [results[i : i + ORG_GROUPS_PER_PAGE] for i in range(0, len(results), ORG_GROUPS_PER_PAGE)]
    queue = ce_backends[DEFAULT_ACCOUNT_ID]["global"].cost_usage_results_queue
    for number, page in enumerate(pages):
        by_day: dict[date, list[dict[str, Any]]] = {}
        for day, account, name, amount in page:
            by_day.setdefault(day, []).append(
                {"Keys": [account, f"service${name}"], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}
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


def org_digest_speed(accounts: int = 50, services: int = 100, runs: int = 5) -> float:
    """Median milliseconds to build and render the organisation digest and its team slices (27 days of rows)."""
    from steward.domain.org_costs import AccountCost, build_org_digest
    from steward.reports.org_digest import render_org_digest, team_messages

    ids = [f"{number:012d}" for number in range(1, accounts + 1)]
    rows = [
        AccountCost(day, account, name, Decimal(amount), "USD")
        for day, account, name, amount in _org_rows(ids, services)
    ]
    names = {account: f"member-{account}" for account in ids}
    teams = {f"service-{index:03d}": "C0TEAM00001" for index in range(10)}
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        built = build_org_digest(rows, date(2026, 11, 28), forecast=(Decimal(40000), "USD"), team_channels=teams)
        render_org_digest(built, names, 10)
        team_messages(built, names)
        timings.append((time.perf_counter() - began) * 1000)
    return sorted(timings)[len(timings) // 2]
