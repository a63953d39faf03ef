"""The morning cost digest: one Cost Explorer query (all its pages) and one forecast, whatever the number of
services; what Steward saved (task-hours, and database hours from the holds); right-sizing hints; per-team copies. A
failed query is said, never shown as zeros.

observe (Cost Explorer, Budgets, ECS, the holds, CloudWatch) -> decide (steward.domain.costs builds the digest) ->
apply (the day's claim, then the posts) -> report (steward.reports.cost_report builds every message and the result).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from msgspec import Struct

from steward.adapters import costs as cost_actions
from steward.adapters import ecs as ecs_actions
from steward.adapters import slack as slack_actions
from steward.adapters import state as state_actions
from steward.adapters.aws import RateLimiter
from steward.adapters.costs import CostExplorer, CostsUnavailable
from steward.adapters.db_holds import DatabaseHolds
from steward.adapters.ecs import Ecs
from steward.adapters.holding import Holds, WriteLimits
from steward.adapters.rds import Rds
from steward.adapters.state import StateStore
from steward.apply import Status
from steward.daily_digest import post_with_copies, publish, tell_unavailable
from steward.domain.costs import (
    CostRow,
    DbSaving,
    Oversized,
    Saving,
    Unavailable,
    build_digest,
    database_savings,
    digest_window,
    forecast_window,
    oversized,
    priced_savings,
    running,
    task_hours_saved,
)
from steward.domain.databases import DbKeptOff
from steward.domain.services import KeptOff, ServiceView
from steward.observability import logger, metrics
from steward.reports.cost_report import digest_result, render_digest, team_messages, unavailable_message
from steward.runtime import Runtime
from steward.settings.cost_report import CostReportSettings

# sts:GetCallerIdentity needs no permission.
IAM_ACTIONS = (
    ecs_actions.INVENTORY_ACTIONS
    | ecs_actions.TASK_SIZE_ACTIONS
    | cost_actions.DIGEST_ACTIONS
    | slack_actions.IAM_ACTIONS
    | {state_actions.QUERY, state_actions.WRITE, state_actions.DELETE}
)


class DigestUnavailable(RuntimeError):
    """The digest could not be built; the team was told why in Slack."""


class Adapters(Struct, frozen=True):
    costs: CostExplorer
    ecs: Ecs
    holds: Holds
    state: StateStore
    db_holds: DatabaseHolds


def connect(rt: Runtime[CostReportSettings]) -> Adapters:
    ecs = Ecs(rt.aws)
    # The digest only reads the holds: their write limits never come into play, and it calls no RDS API.
    return Adapters(
        CostExplorer(rt.aws),
        ecs,
        Holds(ecs, rt.state, WriteLimits.per_second(1)),
        rt.state,
        DatabaseHolds(Rds(rt.aws), rt.state, RateLimiter(1)),
    )


class Spend(Struct, frozen=True):
    """What Cost Explorer and Budgets say: the window's daily rows, in how many pages, the forecast and the budget."""

    rows: list[CostRow]
    pages: int
    forecast: tuple[Decimal, str] | str
    budget: tuple[str, Decimal, str] | None

    @property
    def cost_explorer_requests(self) -> int:
        return self.pages + 1  # every page of the one query, and the forecast


def run_digest(rt: Runtime[CostReportSettings], now: datetime) -> dict[str, Any]:
    adapters, settings, today = connect(rt), rt.settings, now.astimezone(UTC).date()
    spend = observe_spend(rt, adapters, today, now)
    services = adapters.ecs.all_services()
    items = adapters.holds.items()  # the services' and the databases' holds, one query
    digest = build_digest(
        spend.rows,
        today,
        forecast=spend.forecast,
        budget=spend.budget,
        savings=savings_yesterday(adapters, items, services, now, settings.aws_region),
        hints=right_sizing_hints(adapters, services, now),
        database_savings=database_hours_yesterday(adapters, items, now, settings.aws_region),
    )
    message = render_digest(
        digest,
        settings.environment,
        settings.top_services,
        dry_run=settings.dry_run,
        cost_tag_key=settings.cost_tag_key,
    )
    metrics.add_metric(name="CostExplorerRequests", unit=MetricUnit.Count, value=spend.cost_explorer_requests)
    teams = team_messages(digest, services, settings.cost_tag_key)
    post = partial(post_with_copies, rt.slack, message, teams)
    applied = publish(adapters.state, digest, digest.yesterday, post, now, dry_run=settings.dry_run)
    if applied.status is Status.DRY_RUN:
        logger.info("cost digest (dry run)", extra={"text": message.text})
    elif applied.status is not Status.DUPLICATE:
        metrics.add_metric(name="DigestsPosted", unit=MetricUnit.Count, value=1)
    return digest_result(applied, message, spend.cost_explorer_requests)


def observe_spend(rt: Runtime[CostReportSettings], adapters: Adapters, today: date, now: datetime) -> Spend:
    """The one Cost Explorer query; if it fails the team is told and the digest stops here (DigestUnavailable)."""
    settings = rt.settings
    try:
        daily, pages = adapters.costs.daily_costs(*digest_window(today), settings.cost_tag_key, settings.cost_metric)
    except CostsUnavailable as error:
        unavailable = Unavailable(str(error))
        message = unavailable_message(unavailable.reason)
        tell_unavailable(adapters.state, rt.slack, unavailable, message, today=today, now=now, dry_run=settings.dry_run)
        raise DigestUnavailable(f"cost digest unavailable: {error}") from error
    forecast = adapters.costs.month_forecast(*forecast_window(today), settings.cost_metric)
    budget = adapters.costs.budget_limit(adapters.costs.account_id(), settings.environment)
    rows = [CostRow(row.day, row.tag_value, row.amount, row.unit, row.estimated) for row in daily]
    return Spend(rows, pages, forecast, budget)


def savings_yesterday(
    adapters: Adapters, items: list[dict[str, Any]], services: list[ServiceView], now: datetime, region: str
) -> list[Saving]:
    """Task-hours kept off yesterday (held now, or ended since), priced from each service's task size."""
    yesterday = now.astimezone(UTC).date() - timedelta(days=1)
    held = [
        KeptOff(key, record.restore.desired_count, record.restore.stopped_at, now)
        for key, record in adapters.holds.records(items).items()
        if record.restore is not None
    ]
    saved = task_hours_saved([*held, *adapters.holds.kept_off_since(yesterday)], services, yesterday)
    definitions = dict.fromkeys(item.service.task_definition for item in saved)  # each described once, in order
    return priced_savings(saved, {name: adapters.ecs.task_size(name) for name in definitions}, region)


def database_hours_yesterday(
    adapters: Adapters, items: list[dict[str, Any]], now: datetime, region: str
) -> list[DbSaving]:
    """Database hours held stopped yesterday (held now, or ended since), per instance class, priced where a list
    price is on file."""
    yesterday = now.astimezone(UTC).date() - timedelta(days=1)
    held = [
        DbKeptOff(key, record.hold.engine, record.hold.classes, record.hold.accepted_at, now)
        for key, record in adapters.db_holds.records(items).items()
        if record.hold is not None and record.hold.accepted_at is not None  # a stop AWS never accepted saved nothing
    ]
    return database_savings([*held, *adapters.db_holds.kept_stopped_since(yesterday)], yesterday, region)


def right_sizing_hints(adapters: Adapters, services: list[ServiceView], now: datetime) -> list[Oversized]:
    """Running services whose 7-day average CPU and memory utilisation both stayed low."""
    candidates = running(services)
    return oversized(candidates, adapters.costs.utilisation(candidates, now - timedelta(days=7), now))
