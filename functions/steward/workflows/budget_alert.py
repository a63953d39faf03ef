"""AWS Budgets notifications: one Slack alert per threshold per period (escalating once), the period's top cost
drivers, and — only where the team configured it — stopping non-production services the off-hours way."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from steward.adapters import costs as cost_actions
from steward.adapters import ecs as ecs_actions
from steward.adapters import holding
from steward.adapters import slack as slack_actions
from steward.adapters import state as state_actions
from steward.adapters.costs import CostExplorer, CostsUnavailable
from steward.adapters.ecs import Ecs
from steward.adapters.holding import Holds, WriteLimits
from steward.adapters.state import Key, StateUnavailable
from steward.domain import slack as blocks
from steward.domain.budgets import (
    ActionVerdict,
    Period,
    anomaly,
    budget_period,
    cost_driver_window,
    judge_action,
    money,
    selected,
)
from steward.domain.services import RestoreRecord, ServiceView, kept_awake
from steward.models.budgets import BudgetNotification, SnsEvent, SnsMessage, SnsRecord, is_budget_auto_adjustment
from steward.observability import logger, metrics
from steward.runtime import Runtime, reject
from steward.settings import BudgetAlertSettings

MESSAGE_LIFETIME = timedelta(days=14)
TOP_DRIVERS = 5
NOT_ALERTED = Decimal(-1)  # below every threshold (a real one can be 0 %): the next alert of the period escalates
RELEASED = "released"

IAM_ACTIONS = (
    ecs_actions.INVENTORY_ACTIONS
    | holding.HOLD_ACTIONS
    | cost_actions.COST_DRIVER_ACTIONS
    | slack_actions.IAM_ACTIONS
    | {state_actions.WRITE, state_actions.UPDATE, state_actions.QUERY}
)


def handle(rt: Runtime[BudgetAlertSettings], event: SnsEvent) -> dict[str, Any]:
    """Each record on its own: one record's transient failure neither loses nor blocks another's alert; the first
    such failure is raised once every record was tried, so Lambda retries the event (handled ones are duplicates)."""
    results: list[dict[str, Any]] = []
    failure: ClientError | BotoCoreError | StateUnavailable | None = None
    for record in event.records:
        try:
            results.append(handle_record(rt, record))
        except (ClientError, BotoCoreError, StateUnavailable) as error:
            logger.warning(
                "budget alert failed; its claims are released for the retry",
                extra={"message_id": record.sns.message_id, "error": str(error)},
            )
            failure = failure or error
    if failure is not None:
        raise failure
    return {"outcome": "ok", "records": results}


def handle_record(rt: Runtime[BudgetAlertSettings], record: SnsRecord) -> dict[str, Any]:
    sns = record.sns
    if is_budget_auto_adjustment(sns.message):
        logger.info("budget message ignored", extra={"message_id": sns.message_id, "reason": "auto-adjustment"})
        return {
            "message_id": sns.message_id,
            "outcome": "ignored",
            "reason": "a budget auto-adjustment message, not an alert",
        }
    try:
        notification = BudgetNotification.from_text(sns.message)
    except ValueError as error:
        # A wording Steward cannot read may be a new AWS format: counted, so an alarm can say so.
        metrics.add_metric(name="UnreadableBudgetMessages", unit=MetricUnit.Count, value=1)
        return {"message_id": sns.message_id, **reject(str(error), sns.message[:500]).result()}

    period = budget_period(notification, sns.timestamp)
    if not period.known:
        logger.warning(
            "budget period unknown",
            extra={"budget": notification.budget_name, "period_wording": notification.period_wording},
        )
        metrics.add_metric(name="BudgetPeriodUnknown", unit=MetricUnit.Count, value=1)
    claims = Claims(message_id=sns.message_id)
    if not rt.settings.dry_run:
        duplicate = claim(rt, notification, period, sns, claims)
        if duplicate is not None:
            return {"message_id": sns.message_id, "outcome": "duplicate", "reason": duplicate}
    try:
        return alert(rt, notification, period, sns.timestamp, sns.message_id)
    except (ClientError, BotoCoreError, StateUnavailable):
        release(rt, claims)
        raise


@dataclass
class Claims:
    """The once-only records an alert wrote; released when it fails before it is done, so Lambda's retry is not
    taken for a duplicate."""

    message_id: str
    message: Key | None = None
    highest: Key | None = None
    message_expires: datetime | None = None
    before: dict[str, Any] | None = None  # the highest-threshold record as it was before this alert
    highest_expires: datetime | None = None


def claim(
    rt: Runtime[BudgetAlertSettings],
    notification: BudgetNotification,
    period: Period,
    sns: SnsMessage,
    claims: Claims,
) -> str | None:
    """Claim the SNS message, then the highest threshold alerted this period; the reason when already handled."""
    message_key = Key(f"sns#{sns.message_id}", "budget-message")
    claims.message_expires = sns.timestamp + MESSAGE_LIFETIME
    # A released claim is rewritten without `budget`, so the retry can claim it again.
    if not rt.state.put_new(
        message_key, {"budget": notification.budget_name}, expires=claims.message_expires, unless="budget"
    ):
        return "this SNS message was already handled"
    claims.message = message_key
    highest_key = Key(
        f"budget#{notification.account_id}/{notification.budget_name}",
        f"highest#{period.key}#{notification.alert_type}",
    )
    try:
        # What a release restores; read with the Query the role already has (the only item with this sk).
        claims.before = next(iter(rt.state.items_of(highest_key.pk, highest_key.sk)), None)
        escalated = rt.state.update(
            highest_key,
            {"threshold": notification.threshold_percent, "message_id": sns.message_id},
            condition="attribute_not_exists(threshold) OR threshold < :t",
            condition_values={":t": notification.threshold_percent},
            expires=period.ends_at + timedelta(days=40),
        )
    except StateUnavailable:
        release(rt, claims)
        raise
    if escalated is None:
        return f"already alerted at {notification.threshold_percent} % or higher this period ({period.key})"
    claims.highest = highest_key
    claims.highest_expires = period.ends_at + timedelta(days=40)
    return None


def release(rt: Runtime[BudgetAlertSettings], claims: Claims) -> None:
    """Undo this alert's claims: the highest threshold goes back to what it was (unless a later alert raised it
    since), and the SNS message may be claimed again."""
    try:
        if claims.highest is not None:
            before = claims.before or {}
            rt.state.update(
                claims.highest,
                {
                    "threshold": before.get("threshold", NOT_ALERTED),
                    "message_id": before.get("message_id", RELEASED),
                },
                condition="message_id = :m",
                condition_values={":m": claims.message_id},
                expires=claims.highest_expires,
            )
        if claims.message is not None:
            rt.state.put(claims.message, {"released": True}, expires=claims.message_expires)
    except StateUnavailable as error:
        logger.error("budget claim not released; a retry may be taken for a duplicate", extra={"error": str(error)})
        metrics.add_metric(name="ClaimReleaseFailures", unit=MetricUnit.Count, value=1)


def alert(
    rt: Runtime[BudgetAlertSettings],
    notification: BudgetNotification,
    period: Period,
    now: datetime,
    message_id: str,
) -> dict[str, Any]:
    """Cost drivers, the configured action, the Slack alert: everything after the claims."""
    action = rt.settings.budget_actions.get(notification.budget_name)
    verdict = judge_action(
        notification,
        period,
        action.action if action else None,
        rt.settings.anomaly_multiple,
        rt.settings.environment,
    )
    drivers = cost_drivers(rt, period, now)
    stopped: list[str] = []
    if verdict.act and action is not None:
        stopped = stop_selected(rt, notification, period, action.selector, now)
        metrics.add_metric(name="BudgetActions", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="BudgetAlerts", unit=MetricUnit.Count, value=1)
    rt.slack.post(alert_message(rt, notification, period, drivers, verdict=verdict, stopped=stopped))
    logger.info(
        "budget alert",
        extra={
            "budget": notification.budget_name,
            "period": period.key,
            "threshold": str(notification.threshold_percent),
            "alert_type": notification.alert_type,
            "action": verdict.reason,
            "stopped": stopped,
        },
    )
    return {
        "message_id": message_id,
        "outcome": "alerted",
        "budget": notification.budget_name,
        "period": period.key,
        "threshold_percent": str(notification.threshold_percent),
        "action": verdict.reason,
        "stopped": stopped,
    }


def cost_drivers(
    rt: Runtime[BudgetAlertSettings], period: Period, now: datetime
) -> list[tuple[str, Decimal, str]] | str:
    """The period's spend by cost tag, largest first — one Cost Explorer request — or why it is unavailable."""
    window = cost_driver_window(period, now)
    if window is None:
        return "the budget period could not be read from the notification"
    try:
        return CostExplorer(rt.aws).spend_by_tag(*window, rt.settings.cost_tag_key)[:TOP_DRIVERS]
    except CostsUnavailable as error:
        logger.warning("cost drivers unavailable", extra={"error": str(error)})
        return str(error)


def stop_selected(
    rt: Runtime[BudgetAlertSettings],
    notification: BudgetNotification,
    period: Period,
    selector: dict[str, str],
    now: datetime,
) -> list[str]:
    """Stop every selected, unprotected, running service with a restore record, exactly as off-hours would."""
    ecs = Ecs(rt.aws)
    holds = Holds(ecs, rt.state, WriteLimits.per_second(10))
    records = holds.records()
    candidates = [
        view
        for view in ecs.all_services()
        if view.exists
        and selected(view.tags, selector)
        and not view.protected
        and not kept_awake(view, now)
        and view.scheduling_strategy != "DAEMON"
        and view.desired_count > 0
        and not (records.get(view.key) and records[view.key].restore)
    ]
    if rt.settings.dry_run:
        return [f"{view.key} (dry run)" for view in candidates]
    targets = ecs.scalable_targets((view.cluster, view.name) for view in candidates) if candidates else {}
    by = f"budget:{notification.budget_name}"

    def stop(view: ServiceView) -> str | None:
        restore = RestoreRecord(
            desired_count=view.desired_count,
            target=targets.get(view.key),
            stopped_at=now,
            stopped_by=by,
            edge_id=f"{by}@{period.key}",
            hold_until=period.resets_at,
        )
        try:
            if not holds.claim(view, restore):
                return None
            holds.stop(view, restore)
        except (ClientError, BotoCoreError, StateUnavailable) as error:
            # The service keeps running; the alert says so. Its restore record (if written) lets off-hours finish.
            logger.warning("budget stop failed", extra={"service": view.key, "error": str(error)})
            metrics.add_metric(name="BudgetStopFailures", unit=MetricUnit.Count, value=1)
            return None
        return view.key

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [key for key in pool.map(stop, candidates) if key]


def alert_message(
    rt: Runtime[BudgetAlertSettings],
    notification: BudgetNotification,
    period: Period,
    drivers: list[tuple[str, Decimal, str]] | str,
    *,
    verdict: ActionVerdict,
    stopped: list[str],
) -> blocks.SlackMessage:
    unit = notification.currency
    kind = "forecast" if notification.alert_type == "FORECASTED" else "actual"
    suspicious = anomaly(notification, rt.settings.anomaly_multiple)
    title = (
        f"Budget {notification.budget_name}: {notification.threshold_percent} % threshold ({notification.alert_type})"
    )
    if suspicious:
        title = f"Budget {notification.budget_name}: suspected billing-estimate anomaly"
    fields = [
        f"*Budget*\n{blocks.escape(notification.budget_name)} ({period.key if period.known else 'period unknown'})",
        f"*Alert*\n{notification.alert_type} ≥ {notification.threshold_percent} %",
        f"*{kind.capitalize()}*\n{money(notification.reported_amount, unit)}",
        f"*Budgeted*\n{money(notification.budgeted_amount, unit)}",
    ]
    if isinstance(drivers, str):
        driver_text = f"_Top cost drivers unavailable: {blocks.escape(drivers)}_"
    else:
        lines = [f"• {blocks.escape(name) or '_untagged_'}: {money(amount, u)}" for name, amount, u in drivers]
        driver_text = f"*Top cost drivers this period* (by `{blocks.escape(rt.settings.cost_tag_key)}`)\n" + (
            "\n".join(lines) or "none"
        )
    if stopped:
        action_text = f"*Action:* stopped {len(stopped)} service(s): " + ", ".join(
            f"`{blocks.escape(s)}`" for s in stopped
        )
        action_text += (
            "\nThey come back at their next scheduled start, when the period resets, or with steward:keep-awake-until."
        )
    else:
        action_text = f"*Action:* none — {blocks.escape(verdict.reason)}"
    text = f"{title}: {kind} {money(notification.reported_amount, unit)} of {money(notification.budgeted_amount, unit)}"
    return blocks.SlackMessage(
        text=("[dry run] " if rt.settings.dry_run else "") + text,
        blocks=(
            blocks.header(title),
            blocks.section(" ", fields=fields),
            blocks.section(driver_text),
            blocks.section(action_text),
        ),
    )
