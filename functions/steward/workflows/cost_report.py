"""The morning cost digest: one Cost Explorer query (all its pages) and one forecast, whatever the number of
services; what Steward saved; right-sizing hints; per-team copies. A failed query is said, never shown as zeros."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from steward.adapters import costs as cost_actions
from steward.adapters import ecs as ecs_actions
from steward.adapters import slack as slack_actions
from steward.adapters import state as state_actions
from steward.adapters.costs import CostExplorer, CostsUnavailable
from steward.adapters.ecs import Ecs
from steward.adapters.state import Key, StateStore, StateUnavailable
from steward.domain import slack as blocks
from steward.domain.costs import (
    FARGATE_SPOT_DISCOUNT,
    CostRow,
    Digest,
    Saving,
    build_digest,
    digest_window,
    price_task_hours,
    render_digest,
    service_line,
    task_hours_within,
)
from steward.domain.services import CHANNEL_TAG, ServiceView
from steward.observability import logger, metrics
from steward.runtime import Runtime
from steward.settings import CostReportSettings

IDLE_PERCENT = 20.0

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


def _first_to_say_unavailable(rt: Runtime[CostReportSettings], today: date, reason: str, now: datetime) -> bool:
    """Lambda retries a failed digest twice: the team hears about it once a day (or, with no state table, each time)."""
    if rt.settings.dry_run:
        return True
    try:
        return rt.state.put_new(
            Key(pk="digest-unavailable", sk=today.isoformat()), {"reason": reason}, expires=now + timedelta(days=2)
        )
    except StateUnavailable:
        return True


def run_digest(rt: Runtime[CostReportSettings], now: datetime) -> dict[str, Any]:
    today = now.astimezone(UTC).date()
    start, end = digest_window(today)
    costs = CostExplorer(rt.aws)
    try:
        daily, pages = costs.daily_costs(start, end, rt.settings.cost_tag_key, rt.settings.cost_metric)
    except CostsUnavailable as error:
        reason = str(error)
        if _first_to_say_unavailable(rt, today, reason, now):
            rt.slack.post(
                blocks.SlackMessage(
                    text=f"cost digest unavailable: {reason}",
                    blocks=(blocks.section(f"*Cost digest unavailable:* {blocks.escape(reason)}"),),
                )
            )
        metrics.add_metric(name="DigestFailures", unit=MetricUnit.Count, value=1)
        raise DigestUnavailable(f"cost digest unavailable: {reason}") from error
    month_start = today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    forecast = costs.month_forecast(today, next_month, rt.settings.cost_metric)
    account = rt.aws.sts.get_caller_identity()["Account"]
    budget = costs.budget_limit(account, rt.settings.environment)

    services = Ecs(rt.aws).all_services()
    savings = savings_yesterday(rt, services, now)
    hints = right_sizing_hints(rt, costs, services, now)
    rows = [CostRow(r.day, r.tag_value, r.amount, r.unit, r.estimated) for r in daily]
    digest = build_digest(rows, today, forecast=forecast, budget=budget, savings=savings, hints=hints)
    message = render_digest(digest, rt.settings.environment, rt.settings.top_services, dry_run=rt.settings.dry_run)

    metrics.add_metric(name="CostExplorerRequests", unit=MetricUnit.Count, value=pages + 1)
    if rt.settings.dry_run:
        logger.info("cost digest (dry run)", extra={"text": message.text})
    else:
        # One digest a day, however often the schedule delivers: the first delivery claims the day.
        claim = Key(pk="digest", sk=digest.yesterday.isoformat())
        if not rt.state.put_new(claim, {"posted_at": now.isoformat()}, expires=now + timedelta(days=40)):
            return {
                "outcome": "duplicate",
                "yesterday": digest.yesterday.isoformat(),
                "reason": "this day's digest was already posted",
            }
        if rt.slack.post(message) is None and rt.slack.enabled:
            rt.state.delete(claim)  # Slack failed: a retry of the schedule may post it
        for channel, team_message in team_messages(digest, services, rt.settings.cost_tag_key).items():
            rt.slack.post(blocks.SlackMessage(text=team_message.text, blocks=team_message.blocks, channel=channel))
        metrics.add_metric(name="DigestsPosted", unit=MetricUnit.Count, value=1)
    return {
        "outcome": "dry-run" if rt.settings.dry_run else "posted",
        "yesterday": digest.yesterday.isoformat(),
        "total": f"{digest.total_yesterday}",
        "unit": digest.unit,
        "services": len(digest.services),
        "cost_explorer_requests": pages + 1,
        "message": {
            "text": message.text,
            "blocks": list(message.blocks),
            "replies": [list(r.blocks) for r in message.replies],
        },
    }


def savings_yesterday(rt: Runtime[CostReportSettings], services: list[ServiceView], now: datetime) -> list[Saving]:
    """Task-hours kept off yesterday (held now, or started since), priced from each service's task size."""
    yesterday = now.astimezone(UTC).date() - timedelta(days=1)
    held: list[tuple[str, int, datetime, datetime]] = []
    for item in rt.state.records("off-hours"):
        if item.get("desired_count") and item.get("stopped_at"):
            held.append(
                (
                    item["pk"].removeprefix("service#"),
                    int(item["desired_count"]),
                    datetime.fromisoformat(item["stopped_at"]),
                    now,
                )
            )
    for item in _savings_log(rt.state, yesterday):
        held.append(
            (
                item["service"],
                int(item["tasks"]),
                datetime.fromisoformat(item["from"]),
                datetime.fromisoformat(item["to"]),
            )
        )
    by_key = {view.key: view for view in services}
    ecs = Ecs(rt.aws)
    sizes: dict[str, tuple[int, int, str]] = {}
    savings: list[Saving] = []
    for key, tasks, start, end in held:
        hours = task_hours_within(tasks, start, end, yesterday)
        view = by_key.get(key)
        if not hours or view is None or not view.task_definition:
            continue
        if view.task_definition not in sizes:
            sizes[view.task_definition] = ecs.task_size(view.task_definition)
        cpu, memory, architecture = sizes[view.task_definition]
        savings.append(Saving(key, hours, price_task_hours(hours, cpu, memory, rt.settings.aws_region, architecture)))
    # Spot versus on-demand: the tasks each strategy puts on Fargate Spot, for the whole day.
    for view in services:
        if not view.fargate_spot_tasks or not view.task_definition:
            continue
        if view.task_definition not in sizes:
            sizes[view.task_definition] = ecs.task_size(view.task_definition)
        cpu, memory, architecture = sizes[view.task_definition]
        hours = Decimal(24 * view.fargate_spot_tasks)
        on_demand = price_task_hours(hours, cpu, memory, rt.settings.aws_region, architecture)
        savings.append(Saving(view.key, hours, on_demand * FARGATE_SPOT_DISCOUNT, kind="on Spot"))
    return savings


def _savings_log(state: StateStore, since: Any) -> list[dict[str, Any]]:
    return state.items_of("savings", from_sk=since.isoformat())


def right_sizing_hints(
    rt: Runtime[CostReportSettings], costs: CostExplorer, services: list[ServiceView], now: datetime
) -> list[str]:
    """Services whose 7-day average CPU and memory utilisation both stayed under IDLE_PERCENT."""
    running = [view for view in services if view.exists and view.desired_count > 0]
    queries = []
    for index, view in enumerate(running):
        for metric in ("CPUUtilization", "MemoryUtilization"):
            queries.append(
                {
                    "Id": f"{metric[0].lower()}{index}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/ECS",
                            "MetricName": metric,
                            "Dimensions": [
                                {"Name": "ClusterName", "Value": view.cluster},
                                {"Name": "ServiceName", "Value": view.name},
                            ],
                        },
                        "Period": 3600,
                        "Stat": "Average",
                    },
                }
            )
    if not queries:
        return []
    averages = costs.metric_averages(queries, now - timedelta(days=7), now)
    hints = []
    for index, view in enumerate(running):
        cpu, memory = averages.get(f"c{index}"), averages.get(f"m{index}")
        if cpu is not None and memory is not None and cpu < IDLE_PERCENT and memory < IDLE_PERCENT:
            hints.append(
                f"{view.key}: 7-day average CPU {cpu:.0f}%, memory {memory:.0f}% — a smaller task size would do"
            )
    return hints


def team_messages(digest: Digest, services: list[ServiceView], cost_tag_key: str) -> dict[str, blocks.SlackMessage]:
    """A short copy for each steward:channel, with that team's services only."""
    channel_of: dict[str, str] = {}
    for view in services:
        channel = view.tags.get(CHANNEL_TAG)
        if channel:
            channel_of[view.tags.get(cost_tag_key, view.name)] = channel
    grouped: dict[str, list[str]] = defaultdict(list)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for service in digest.services:
        channel = channel_of.get(service.name)
        if channel:
            grouped[channel].append(service_line(service, digest.unit))
            totals[channel] += service.yesterday
    day = digest.yesterday.strftime("%a %d %b")
    return {
        channel: blocks.SlackMessage(
            text=f"Your services cost {totals[channel]:.2f} {digest.unit} on {day}",
            blocks=(blocks.section(f"*Your services, {day}*\n" + "\n".join(lines)),),
        )
        for channel, lines in grouped.items()
    }
