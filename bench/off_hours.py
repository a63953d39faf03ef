"""Off-hours at scale: AWS requests per tick for 10 / 100 / 1,000 services (no transition, full transition),
against the naive per-service approach, and the wall time of a 1,000-service transition under 50 ms latency.
Every request meets the AWS rules moto does not check (devtools.strict)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import boto3
from devtools.lambda_context import LambdaContext
from devtools.platform import ServiceSpec, create_service
from devtools.strict import installed
from devtools.template import create_state_table
from moto import mock_aws

STATE_TABLE = "steward-bench-state"
SCHEDULES_PARAMETER = "/steward-bench/schedules"
MIDDAY = "2026-11-27T11:00:00Z"  # Friday 12:00 Berlin: everything on, nothing to do
MIDDAY_LATER = "2026-11-27T11:10:00Z"  # the next tick: nothing changed, nothing due
EVENING = "2026-11-27T19:00:00Z"  # Friday 20:00 Berlin: everything stops
SCHEDULES = (
    '{"office-hours": {"timezone": "Europe/Berlin", '
    '"periods": [{"days": "mon-fri", "start": "07:00", "stop": "20:00"}]}}'
)


@dataclass
class TickFigures:
    services: int
    scenario: str
    requests: int
    budget: int
    naive: int
    seconds: float
    calls: dict[str, int] = field(default_factory=dict)  # requests by service.Operation

    @property
    def ratio(self) -> float:
        return self.naive / self.requests if self.requests else math.inf


def environment(**overrides: str) -> dict[str, str]:
    return {
        "STEWARD_ENVIRONMENT": "dev",
        "DRY_RUN": "false",
        "STATE_TABLE": STATE_TABLE,
        "SCHEDULES_PARAMETER": SCHEDULES_PARAMETER,
        "PAUSE_PARAMETER": "/steward-bench/pause",  # as the template sets it: read every tick
        "SLACK_TOKEN_SECRET_ARN": "",
        "SLACK_CHANNEL": "",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "MOTO_ECS_SERVICE_RUNNING": "1000",
        **overrides,
    }


@contextmanager
def platform(services: int) -> Iterator[None]:
    """`services` tagged services, up to 100 a cluster (1,000 → 10 clusters); every fifth has a scalable target."""
    clusters = max(1, services // 100)
    os.environ.update(environment())
    with mock_aws(), installed():
        session = boto3.session.Session()
        ecs, autoscaling = session.client("ecs"), session.client("application-autoscaling")
        create_state_table(session.client("dynamodb"), STATE_TABLE)
        session.client("ssm").put_parameter(Name=SCHEDULES_PARAMETER, Type="String", Value=SCHEDULES)
        per_cluster = math.ceil(services / clusters)
        for index in range(services):
            cluster = f"bench-{index // per_cluster:02d}"
            if index % per_cluster == 0:
                ecs.create_cluster(clusterName=cluster)
            spec = ServiceSpec(f"svc-{index:04d}", 2, target=(1, 4) if index % 5 == 0 else None)
            create_service(ecs, autoscaling, spec, cluster=cluster, tags={"steward:schedule": "office-hours"})
        yield


def run_tick(now: str, **env: str) -> tuple[int, float, dict[str, Any]]:
    from aws_lambda_powertools.utilities import parameters

    from steward.handlers import off_hours
    from steward.runtime import shared_aws
    from steward.settings import load_settings

    os.environ.update(environment(**env))
    load_settings.cache_clear()
    shared_aws.cache_clear()
    parameters.clear_caches()
    started = time.perf_counter()
    result = off_hours.lambda_handler(
        {"source": "steward.scheduler", "task": "off-hours-tick", "now": now}, LambdaContext(function_name="bench")
    )
    return shared_aws().total_calls, time.perf_counter() - started, result


def request_counts(sizes: tuple[int, ...] = (10, 100, 1000)) -> list[TickFigures]:
    from steward.runtime import shared_aws

    figures = []
    for services in sizes:
        with platform(services):
            quiet_requests, quiet_seconds, _ = run_tick(MIDDAY, WRITES_PER_SECOND="100")
            budget = math.ceil(services / 10) + math.ceil(services / 100) + 20
            # Naive: list, then one describe and one tag lookup per service.
            naive = 1 + max(1, services // 100) + 2 * services
            quiet_calls = dict(shared_aws().calls)
            figures.append(
                TickFigures(services, "no transition", quiet_requests, budget, naive, quiet_seconds, quiet_calls)
            )
            idle_requests, idle_seconds, idle = run_tick(MIDDAY_LATER, WRITES_PER_SECOND="100")
            assert idle["outcome"] == "idle", idle
            idle_budget = math.ceil(services / 100) + 3  # one paged tag sweep + the records, schedules, pause switch
            figures.append(
                TickFigures(
                    services,
                    "idle (nothing due)",
                    idle_requests,
                    idle_budget,
                    naive,
                    idle_seconds,
                    dict(shared_aws().calls),
                )
            )
            full_requests, full_seconds, result = run_tick(EVENING, WRITES_PER_SECOND="100")
            assert len(result["stopped"]) == services, result
            # Naive stop: describe + tags + scalable-target lookup + record + target + update per service.
            figures.append(
                TickFigures(
                    services,
                    "all stop",
                    full_requests,
                    budget + 4 * services,
                    naive + 4 * services,
                    full_seconds,
                    dict(shared_aws().calls),
                )
            )
    return figures


@dataclass
class DatabaseFigures:
    services: int
    databases: int
    quiet: int  # requests of a tick with nothing due, services and databases together
    quiet_target: int  # the services' quiet-tick target + ceil(D/100) + 2
    per_stop: float  # requests per database stopped, beyond what the same tick costs with nothing due
    per_start: float
    calls: dict[str, int] = field(default_factory=dict)


def seed_databases(count: int) -> None:
    """`count` databases: three RDS PostgreSQL instances to one Aurora cluster (each with its writer), on the
    services' schedule."""
    from devtools.platform import create_aurora_cluster, create_database

    rds = boto3.client("rds")
    office = {"steward:schedule": "office-hours"}
    for index in range(count):
        if index % 4 == 3:
            create_aurora_cluster(rds, f"aurora-{index:04d}", writer=f"aurora-{index:04d}-1", tags=office)
        else:
            create_database(rds, f"db-{index:04d}", tags=office)


def database_counts(services: int = 1000, databases: int = 200) -> DatabaseFigures:
    """A quiet tick with services and databases together, and what each database's stop and start cost on top."""
    from steward.runtime import shared_aws

    with platform(services):
        seed_databases(databases)
        quiet, _, _ = run_tick(MIDDAY, WRITES_PER_SECOND="100")
        calls = dict(shared_aws().calls)
        run_tick(EVENING, WRITES_PER_SECOND="100")  # the services stop; the databases wait for them
        stopping, _, stopped = run_tick("2026-11-27T19:10:00Z", WRITES_PER_SECOND="100")
        assert len(stopped["databases"]["stopped"]) == databases, stopped["databases"]
        held, _, _ = run_tick("2026-11-27T19:20:00Z", WRITES_PER_SECOND="100")
        before, _, _ = run_tick("2026-11-30T05:40:00Z", WRITES_PER_SECOND="100")
        starting, _, started = run_tick("2026-11-30T05:45:00Z", WRITES_PER_SECOND="100")
        assert len(started["databases"]["started"]) == databases, started["databases"]
    services_target = math.ceil(services / 10) + math.ceil(services / 100) + 20
    return DatabaseFigures(
        services,
        databases,
        quiet,
        services_target + math.ceil(databases / 100) + 2,
        (stopping - held) / databases,
        (starting - before) / databases,
        calls,
    )


# The requests only a transition makes (its own cost); everything else is what ticks cost to look.
TRANSITION_OPERATIONS = frozenset(
    {
        "ecs.UpdateService",
        "application-autoscaling.DescribeScalableTargets",
        "application-autoscaling.RegisterScalableTarget",
        "rds.StopDBInstance",
        "rds.StartDBInstance",
        "rds.StopDBCluster",
        "rds.StartDBCluster",
        "dynamodb.PutItem",
        "dynamodb.UpdateItem",
        "dynamodb.DeleteItem",
    }
)


@dataclass
class WeekdayFigures:
    ticks: int
    full: int  # ticks that reconciled everything
    looking: int  # requests per weekday, transitions' own requests left out
    every_tick_full: int  # what looking costs when every tick reconciles (the quiet full tick x ticks)
    transitions: int  # services and databases stopped or started
    per_transition: float


def weekday(services: int = 1000, databases: int = 200) -> WeekdayFigures:
    """Every 10-minute tick of a weekday (Wednesday, office-hours 07:00-20:00 Berlin), the night before included in
    the set-up: what looking costs, and what each stop or start costs on its own."""
    from datetime import datetime, timedelta

    from steward.runtime import shared_aws

    start = datetime(2026, 11, 25, tzinfo=UTC)
    with platform(services):
        seed_databases(databases)
        quiet_full, _, _ = run_tick("2026-11-24T12:00:00Z", WRITES_PER_SECOND="100")
        for now in ("2026-11-24T19:00:00Z", "2026-11-24T19:10:00Z", "2026-11-24T23:50:00Z"):
            run_tick(now, WRITES_PER_SECOND="100")  # Tuesday evening: everything held off for the night
        looking = transition_requests = transitions = full = 0
        for index in range(144):
            now = (start + timedelta(minutes=10 * index)).strftime("%Y-%m-%dT%H:%M:%SZ")
            requests, _, result = run_tick(now, WRITES_PER_SECOND="100")
            own = sum(count for name, count in shared_aws().calls.items() if name in TRANSITION_OPERATIONS)
            reconciled = result["outcome"] != "idle"
            own -= 1 if reconciled else 0  # the reconcile marker each full tick leaves is looking, not a transition
            full += reconciled
            looking += requests - own
            transition_requests += own
            moved = result["stopped"] + result["started"]
            moved += result.get("databases", {}).get("stopped", []) + result.get("databases", {}).get("started", [])
            transitions += len(moved)
    return WeekdayFigures(
        144, full, looking, 144 * quiet_full, transitions, transition_requests / transitions if transitions else 0.0
    )


def latency_run(concurrency: str, rate: str, services: int = 1000, latency: float = 0.05) -> dict[str, float]:
    """The evening tick for `services` services with `latency` seconds added to every AWS request."""
    from steward.adapters import aws as aws_adapter

    original = aws_adapter.AwsClients._count

    def slow(self: Any, model: Any, **kwargs: Any) -> None:
        time.sleep(latency)
        original(self, model, **kwargs)

    aws_adapter.AwsClients._count = slow  # type: ignore[method-assign]
    try:
        with platform(services):
            requests, seconds, result = run_tick(EVENING, MAX_CONCURRENCY=concurrency, WRITES_PER_SECOND=rate)
    finally:
        aws_adapter.AwsClients._count = original  # type: ignore[method-assign]
    assert len(result["stopped"]) == services
    writes = sum(1 for _ in result["stopped"])
    return {"seconds": seconds, "requests": requests, "updates": writes}
