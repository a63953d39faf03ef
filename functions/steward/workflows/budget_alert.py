"""AWS Budgets notifications: one Slack alert per threshold per period (escalating once), the period's top cost
drivers, and — only where the team configured it — stopping non-production services and databases the off-hours way.

observe (the period; the cost drivers, the services and the databases in scope, read once the alert is claimed) →
decide (domain/budgets.py) → plan (the alert's change guarded by its two claims; one hold per service or database to
stop) → apply → report (reports/budget_alert.py).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from msgspec import Struct, field

from steward.adapters import costs as cost_actions
from steward.adapters import ecs as ecs_actions
from steward.adapters import holding
from steward.adapters import pause as pause_actions
from steward.adapters import rds as rds_actions
from steward.adapters import slack as slack_actions
from steward.adapters import state as state_actions
from steward.adapters.costs import CostExplorer, CostsUnavailable
from steward.adapters.db_holds import DatabaseHoldClaim, DatabaseHolds
from steward.adapters.ecs import Ecs
from steward.adapters.holding import HoldClaim, Holds, WriteLimits
from steward.adapters.pause import PauseSwitch
from steward.adapters.rds import Rds
from steward.adapters.state import Key, StateStore
from steward.apply import REPORTED, Applied, Change, Claim, Status, apply
from steward.domain.budgets import (
    AlertDecision,
    BudgetDbStop,
    BudgetStop,
    Selection,
    budget_db_stop,
    budget_stop,
    cost_driver_window,
    decide_alert,
    select_for_stop,
    with_databases,
)
from steward.domain.databases import DatabaseView
from steward.domain.scope import Scope
from steward.domain.services import ServiceView
from steward.models.budgets import (
    BudgetAutoAdjustment,
    BudgetNotification,
    SnsEvent,
    SnsMessage,
    SnsRecord,
    UnreadableBudgetMessage,
)
from steward.observability import logger, metrics
from steward.reports.budget_alert import AlertOutcome, Drivers, alert_message
from steward.runtime import MAX_LOGGED_EVENT_CHARS, Runtime
from steward.settings.budget_alert import BudgetAlertSettings

MESSAGE_LIFETIME = timedelta(days=14)
ESCALATION_LIFETIME = timedelta(days=40)  # counted from the end of the period
TOP_DRIVERS = 5
NOT_ALERTED = Decimal(-1)  # below every threshold (a real one can be 0 %): the next alert of the period escalates
RELEASED = "released"
# A budget stop only stops databases: off-hours starts them when the period resets.
DATABASE_STOP_ACTIONS = frozenset({"rds:StopDBInstance", "rds:StopDBCluster"})

IAM_ACTIONS = (
    ecs_actions.SCOPE_ACTIONS
    | holding.HOLD_ACTIONS
    | rds_actions.FIND_ACTIONS
    | DATABASE_STOP_ACTIONS
    | cost_actions.COST_DRIVER_ACTIONS
    | slack_actions.IAM_ACTIONS
    | {state_actions.WRITE, state_actions.UPDATE, state_actions.QUERY}
    | pause_actions.IAM_ACTIONS
)


def handle(rt: Runtime[BudgetAlertSettings], event: SnsEvent) -> dict[str, Any]:
    """Each record on its own: one record's transient failure neither loses nor blocks another's alert; the first
    such failure is raised once every record was tried, so Lambda retries the event (handled ones are duplicates)."""
    announce_refusals(rt.settings)
    results: list[dict[str, Any]] = []
    failure: BaseException | None = None
    for record in event.records:
        try:
            results.append(handle_record(rt, record))
        except REPORTED as error:
            logger.warning(
                "budget alert failed; its claims are released for the retry",
                extra={"message_id": record.sns.message_id, "error": str(error)},
            )
            failure = failure or error
    if failure is not None:
        raise failure
    return {"outcome": "ok", "records": results}


_ANNOUNCED: dict[str, BudgetAlertSettings] = {}  # the settings whose refusals were logged: one object a cold start


def announce_refusals(settings: BudgetAlertSettings) -> None:
    """Each action the settings refused, logged at error level and counted once per container (settings are read
    once per cold start); its budget still alerts, and each of its alerts says why nothing is stopped."""
    if _ANNOUNCED.get("settings") is settings:
        return
    _ANNOUNCED["settings"] = settings
    for budget, reason in sorted(settings.refused_actions.items()):
        logger.error("budget action refused", extra={"budget": budget, "parameter": "BudgetActions", "reason": reason})
        metrics.add_metric(name="RefusedBudgetActions", unit=MetricUnit.Count, value=1)


def handle_record(rt: Runtime[BudgetAlertSettings], record: SnsRecord) -> dict[str, Any]:
    sns = record.sns
    match sns.message:
        case BudgetNotification() as notification:
            return alert(rt, sns, notification)
        case BudgetAutoAdjustment():
            logger.info("budget message ignored", extra={"message_id": sns.message_id, "reason": "auto-adjustment"})
            return {
                "message_id": sns.message_id,
                "outcome": "ignored",
                "reason": "a budget auto-adjustment message, not an alert",
            }
        case UnreadableBudgetMessage() as unreadable:
            return rejected(sns.message_id, unreadable)


def rejected(message_id: str, message: UnreadableBudgetMessage) -> dict[str, Any]:
    """This record is rejected as a bad event is (a structured log line, RejectedEvents); the others go on."""
    # A wording Steward cannot read may be a new AWS format: counted, so an alarm can say so.
    metrics.add_metric(name="UnreadableBudgetMessages", unit=MetricUnit.Count, value=1)
    excerpt = json.dumps(message.excerpt)[:MAX_LOGGED_EVENT_CHARS]
    logger.warning("event rejected", extra={"rejection_reason": message.reason, "event_excerpt": excerpt})
    metrics.add_metric(name="RejectedEvents", unit=MetricUnit.Count, value=1)
    return {"message_id": message_id, "outcome": "rejected", "reason": message.reason}


def alert(rt: Runtime[BudgetAlertSettings], sns: SnsMessage, notification: BudgetNotification) -> dict[str, Any]:
    """Claimed once (SNS message, highest threshold this period), then the drivers read and the action taken; the
    Slack alert reports it. A failure after the claims releases them and is raised, so Lambda's retry alerts."""
    decision = decide(rt.settings, notification, sns.timestamp, paused=paused_reason(rt, notification, sns.timestamp))
    adapters = Adapters.of(rt)
    sighting = Sighting(adapters, decision, rt.settings.cost_tag_key, sns.timestamp)
    claims = AlertClaims.of(rt.state, decision, sns)
    made = Made()
    change = Change(decision, make=lambda: hold_in_scope(adapters, sighting, sns.timestamp, made), claim=claims)
    applied = apply(change, dry_run=rt.settings.dry_run)
    if applied.status is Status.DUPLICATE:
        return {"message_id": sns.message_id, "outcome": "duplicate", "reason": claims.refused}
    if applied.cause is not None:  # AWS refused for good: raised as ever, the claims already released
        raise applied.cause
    dry_run = applied.status is Status.DRY_RUN
    seen, selection = sighting.seen, sighting.seen.selection
    outcome = AlertOutcome(
        decision,
        seen.drivers,
        [f"{view.key} (dry run)" for view in seen.candidates] if dry_run else made.stopped_services(),
        nothing_to_stop(decision, selection),
        selection.spared if selection else {},
        rt.settings.aws_region,
        stopped_databases=list(seen.databases) if dry_run else made.stopped_databases(),
        spared_databases=selection.spared_databases if selection else {},
    )
    return report(rt, sns.message_id, outcome)


class Made(Struct):
    """The holds the claimed alert's action took: each service's and each database's, as applied."""

    services: list[Applied[BudgetStop]] = field(default_factory=list)
    databases: list[Applied[BudgetDbStop]] = field(default_factory=list)

    def stopped_services(self) -> list[str]:
        return [hold.decision.service.key for hold in self.services if hold.status is Status.DONE]

    def stopped_databases(self) -> list[DatabaseView]:
        return [hold.decision.database for hold in self.databases if hold.status is Status.DONE]


def nothing_to_stop(decision: AlertDecision, selection: Selection | None) -> str:
    """Why an action that ran stopped nothing (its selector found nothing to stop), or "" when it had work."""
    if selection is None or selection.has_work:
        return ""
    why = selection.nothing_to_stop()
    logger.warning("budget action stopped nothing", extra={"budget": decision.notification.budget_name, "reason": why})
    metrics.add_metric(name="BudgetSelectorMatchedNothing", unit=MetricUnit.Count, value=1)
    return why


def paused_reason(rt: Runtime[BudgetAlertSettings], notification: BudgetNotification, at: datetime) -> str:
    """Why a configured stop waits: the pause switch is on. Read only for a budget that has an action."""
    if notification.budget_name not in rt.settings.budget_actions:
        return ""
    state = PauseSwitch(rt.aws, rt.state, rt.settings.pause_parameter).state(at)
    return f"Steward is {state.why}: no budget stop until it resumes" if state else ""


def decide(
    settings: BudgetAlertSettings, notification: BudgetNotification, at: datetime, *, paused: str = ""
) -> AlertDecision:
    action = settings.budget_actions.get(notification.budget_name)
    decision = decide_alert(
        notification,
        at,
        action.action if action else None,
        action.selector if action else {},
        anomaly_multiple=settings.anomaly_multiple,
        environment=settings.environment,
        refusal=settings.refused_actions.get(notification.budget_name, "") or paused,
    )
    if not decision.period.known:
        logger.warning(
            "budget period unknown",
            extra={"budget": notification.budget_name, "period_wording": notification.period_wording},
        )
        metrics.add_metric(name="BudgetPeriodUnknown", unit=MetricUnit.Count, value=1)
    return decision


class Adapters(Struct, frozen=True):
    """What a budget alert reads and changes, built from the runtime in one place."""

    costs: CostExplorer
    ecs: Ecs
    holds: Holds
    scope: Scope  # a budget stop acts only on the services and databases in this stack's scope
    rds: Rds
    db_holds: DatabaseHolds

    @classmethod
    def of(cls, rt: Runtime[BudgetAlertSettings]) -> Adapters:
        ecs, rds = Ecs(rt.aws), Rds(rt.aws)
        limits = WriteLimits.per_second(10)
        return cls(
            CostExplorer(rt.aws),
            ecs,
            Holds(ecs, rt.state, limits),
            rt.settings.scope,
            rds,
            DatabaseHolds(rds, rt.state, limits.ecs),
        )


class Seen(Struct, frozen=True):
    drivers: Drivers
    selection: Selection | None = None  # what the action's selector found (None unless the verdict is to act)

    @property
    def candidates(self) -> list[ServiceView]:
        """The services the action stops."""
        return self.selection.candidates if self.selection else []

    @property
    def databases(self) -> list[DatabaseView]:
        """The databases the action stops."""
        return self.selection.databases if self.selection else []


class Sighting(Struct, dict=True):
    """What the alert shows and its action works on, read on first use: once the alert is claimed (a duplicate costs
    no Cost Explorer request), or, in a dry run, when the report needs it."""

    adapters: Adapters
    decision: AlertDecision
    cost_tag_key: str
    now: datetime

    @cached_property
    def seen(self) -> Seen:
        drivers = self.cost_drivers()
        if not self.decision.verdict.act:
            return Seen(drivers)
        adapters = self.adapters
        items = adapters.holds.items()  # the services' and the databases' records, one query
        held = adapters.holds.records(items)
        in_scope = adapters.ecs.services_in(adapters.scope).inside
        selection = select_for_stop(in_scope, held, self.decision.selector, self.now)
        db_records = adapters.db_holds.records(items)
        databases = adapters.rds.databases_in(adapters.scope)
        return Seen(drivers, with_databases(selection, databases, db_records, self.now))

    def cost_drivers(self) -> Drivers:
        """The period's spend by cost tag, largest first — one Cost Explorer request — or why it is unavailable."""
        window = cost_driver_window(self.decision.period, self.now)
        if window is None:
            return "the budget period could not be read from the notification"
        try:
            return self.adapters.costs.spend_by_tag(*window, self.cost_tag_key)[:TOP_DRIVERS]
        except CostsUnavailable as error:
            logger.warning("cost drivers unavailable", extra={"error": str(error)})
            return str(error)


def hold_in_scope(adapters: Adapters, sighting: Sighting, now: datetime, made: Made) -> None:
    """The claimed alert's action: every service in scope held at zero with a restore record, and every database
    held stopped with its hold record, as off-hours would."""
    candidates, databases = sighting.seen.candidates, sighting.seen.databases
    targets = adapters.ecs.scalable_targets((view.cluster, view.name) for view in candidates) if candidates else {}
    changes = [
        plan_hold(adapters.holds, budget_stop(sighting.decision, view, targets.get(view.key), now))
        for view in candidates
    ]
    db_changes = [plan_db_hold(adapters.db_holds, budget_db_stop(sighting.decision, db, now), now) for db in databases]
    with ThreadPoolExecutor(max_workers=8) as pool:
        made.services.extend(pool.map(apply_hold, changes))
        made.databases.extend(pool.map(apply_db_hold, db_changes))


def plan_hold(holds: Holds, stop: BudgetStop) -> Change[BudgetStop]:
    claim = HoldClaim(holds, stop.service, stop.restore)
    return Change(stop, make=lambda: holds.stop(stop.service, stop.restore), claim=claim)


def plan_db_hold(holds: DatabaseHolds, stop: BudgetDbStop, now: datetime) -> Change[BudgetDbStop]:
    """The hold is written before the database is touched; a stop that fails keeps it ("stopping"), so off-hours
    finishes or undoes the stop, as for services."""
    claim = DatabaseHoldClaim(holds, stop.database, stop.hold)
    return Change(stop, make=lambda: holds.stop(stop.database, stop.hold, now), claim=claim)


def apply_hold(change: Change[BudgetStop]) -> Applied[BudgetStop]:
    # Only the claimed alert's change runs this, never a dry run; a failed stop is reported, the alert goes on.
    applied = apply(change, dry_run=False, raise_transient=False)
    if applied.status is Status.FAILED:
        # The service keeps running; the alert says so. Its restore record (if written) lets off-hours finish.
        logger.warning("budget stop failed", extra={"service": change.decision.service.key, "error": applied.error})
        metrics.add_metric(name="BudgetStopFailures", unit=MetricUnit.Count, value=1)
    return applied


def apply_db_hold(change: Change[BudgetDbStop]) -> Applied[BudgetDbStop]:
    # As for services: a database AWS refused to stop keeps running, and the alert does not list it as stopped.
    applied = apply(change, dry_run=False, raise_transient=False)
    if applied.status is Status.FAILED:
        logger.warning(
            "budget database stop failed", extra={"database": change.decision.database.key, "error": applied.error}
        )
        metrics.add_metric(name="BudgetStopFailures", unit=MetricUnit.Count, value=1)
    return applied


class MessageClaim(Struct):
    """This SNS message is handled once. A released claim is rewritten without `budget`, so a retry claims it."""

    state: StateStore
    key: Key
    budget_name: str
    expires: datetime

    def take(self) -> bool:
        return self.state.put_new(self.key, {"budget": self.budget_name}, expires=self.expires, unless="budget")

    def release(self) -> None:
        self.state.put(self.key, {"released": True}, expires=self.expires)


class EscalationClaim(Struct):
    """The highest threshold alerted this period, raised only by a higher one: 80 % then 100 % alerts twice,
    100 % then 80 % once."""

    state: StateStore
    key: Key
    threshold: Decimal
    message_id: str
    expires: datetime
    before: dict[str, Any] | None = None  # the record as it was before this alert: what a release restores

    def take(self) -> bool:
        # Read with the Query the role already has (the only item with this sk).
        self.before = next(iter(self.state.items_of(self.key.pk, self.key.sk)), None)
        escalated = self.state.update(
            self.key,
            {"threshold": self.threshold, "message_id": self.message_id},
            condition="attribute_not_exists(threshold) OR threshold < :t",
            condition_values={":t": self.threshold},
            expires=self.expires,
        )
        return escalated is not None

    def release(self) -> None:
        """The threshold alerted before this one comes back, unless a later alert raised it since."""
        before = self.before or {}
        self.state.update(
            self.key,
            {"threshold": before.get("threshold", NOT_ALERTED), "message_id": before.get("message_id", RELEASED)},
            condition="message_id = :m",
            condition_values={":m": self.message_id},
            expires=self.expires,
        )


class AlertClaims(Struct):
    """An alert's two once-only claims, taken in order; `refused` says why, when the alert is no news."""

    message: MessageClaim
    escalation: EscalationClaim
    escalation_refusal: str
    refused: str = ""
    taken: list[Claim] = field(default_factory=list)

    @classmethod
    def of(cls, state: StateStore, decision: AlertDecision, sns: SnsMessage) -> AlertClaims:
        notification, period = decision.notification, decision.period
        budget = f"budget#{notification.account_id}/{notification.budget_name}"
        return cls(
            MessageClaim(
                state,
                Key(f"sns#{sns.message_id}", "budget-message"),
                notification.budget_name,
                sns.timestamp + MESSAGE_LIFETIME,
            ),
            EscalationClaim(
                state,
                Key(budget, f"highest#{period.key}#{notification.alert_type}"),
                decision.threshold,
                sns.message_id,
                period.ends_at + ESCALATION_LIFETIME,
            ),
            f"already alerted at {decision.threshold} % or higher this period ({period.key})",
        )

    def take(self) -> bool:
        if not self.message.take():
            self.refused = "this SNS message was already handled"
            return False
        self.taken.append(self.message)
        try:
            escalated = self.escalation.take()
        except REPORTED:  # a connection error too: the message claim must not make Lambda's retry a duplicate
            self.release()
            raise
        if not escalated:
            self.refused = self.escalation_refusal
            return False
        self.taken.append(self.escalation)
        return True

    def release(self) -> None:
        """The escalation first, then the message; a failure is logged and counted, never raised over the error
        that caused the release."""
        try:
            for claim in reversed(self.taken):
                claim.release()
        except REPORTED as error:
            logger.error("budget claim not released; a retry may be taken for a duplicate", extra={"error": str(error)})
            metrics.add_metric(name="ClaimReleaseFailures", unit=MetricUnit.Count, value=1)


def report(rt: Runtime[BudgetAlertSettings], message_id: str, outcome: AlertOutcome) -> dict[str, Any]:
    decision, notification = outcome.decision, outcome.decision.notification
    suffix = " (dry run)" if rt.settings.dry_run else ""
    stopped_databases = [db.key + suffix for db in outcome.stopped_databases]
    if decision.verdict.act:
        metrics.add_metric(name="BudgetActions", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="BudgetAlerts", unit=MetricUnit.Count, value=1)
    rt.slack.post(alert_message(outcome, cost_tag_key=rt.settings.cost_tag_key, dry_run=rt.settings.dry_run))
    logger.info(
        "budget alert",
        extra={
            "budget": notification.budget_name,
            "period": decision.period.key,
            "threshold": str(decision.threshold),
            "alert_type": notification.alert_type,
            "action": outcome.action,
            "stopped": outcome.stopped,
            "stopped_databases": stopped_databases,
        },
    )
    return {
        "message_id": message_id,
        "outcome": "alerted",
        "budget": notification.budget_name,
        "period": decision.period.key,
        "threshold_percent": str(decision.threshold),
        "action": outcome.action,
        "stopped": outcome.stopped,
        "stopped_databases": stopped_databases,
    }
