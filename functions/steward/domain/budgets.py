"""Budget alert decisions: which period an alert belongs to, whether to act on it, and which services and databases
to stop."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from msgspec import Struct
from msgspec.structs import replace

from steward.domain.databases import DatabaseHold, DatabaseRecord, DatabaseView
from steward.domain.services import (
    KEEP_AWAKE_TAG,
    PROTECTED_TAG,
    InvalidTag,
    OffHoursRecord,
    RestoreRecord,
    ScalableTarget,
    ServiceView,
    kept_awake,
)
from steward.models.budgets import BudgetNotification


class Period(Struct, frozen=True):
    """The budget period an alert speaks of. AWS Budgets periods are UTC calendar periods."""

    time_unit: str  # "DAILY", "MONTHLY", or "UNKNOWN" when the notification's wording did not say
    key: str  # "2026-11" for a monthly budget, "2026-11-26" for a daily one, "unknown@2026-11-27"
    start: date
    end: date  # exclusive
    resets_at: datetime  # the budget's first reset after the alert arrived: a budget stop holds until then

    @property
    def known(self) -> bool:
        return self.time_unit != "UNKNOWN"

    @property
    def ends_at(self) -> datetime:
        return _midnight(self.end)


def budget_period(notification: BudgetNotification, at: datetime) -> Period:
    """Daily notifications report yesterday ("per day. Yesterday, …"), monthly ones the current month; any other
    wording is an unknown period, never assumed monthly."""
    day = at.astimezone(UTC).date()
    if notification.time_unit == "DAILY":
        yesterday = day - timedelta(days=1)
        # Yesterday's period is over when AWS reports it; holding a stop only until then would undo it at once.
        return Period("DAILY", yesterday.isoformat(), yesterday, day, _midnight(day + timedelta(days=1)))
    if notification.time_unit == "MONTHLY":
        start = day.replace(day=1)
        end = _first_of_next_month(day)
        return Period("MONTHLY", start.strftime("%Y-%m"), start, end, _midnight(end))
    return Period("UNKNOWN", f"unknown@{day.isoformat()}", day, day + timedelta(days=1), _midnight(day))


def cost_driver_window(period: Period, at: datetime) -> tuple[date, date] | None:
    """[start, end) for the cost-driver query, or None when the period is unknown.

    GetCostAndUsage rejects an End past the 1st of next month ("end date past the beginning of next month",
    aws/aws-sdk-js#2732; End is exclusive, AWS Cost Explorer API Reference, DateInterval).
    """
    if not period.known:
        return None
    return period.start, min(period.end, _first_of_next_month(at.astimezone(UTC).date()))


def _first_of_next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


class ActionVerdict(Struct, frozen=True):
    act: bool
    reason: str


UNKNOWN_PERIOD = "the budget period could not be read from the notification: alert only"


class ActionCase(Struct, frozen=True):
    """What the action rules look at: the alert, its period, what the team configured, where Steward runs."""

    notification: BudgetNotification
    period: Period
    configured: str | None
    anomaly_multiple: int
    environment: str
    refusal: str = ""  # why the configured action is refused (settings), if it is

    @property
    def threshold(self) -> Decimal:
        return self.notification.threshold_percent


class ActionRule(Struct, frozen=True):
    """One reason not to act; `reason` is formatted with the case's `configured`, `threshold` and `refusal`."""

    name: str
    holds: Callable[[ActionCase], bool]
    reason: str


# In order: the first rule that holds is the verdict's reason; when none holds, the budget action runs.
NO_ACTION_RULES = (
    ActionRule(
        "not configured", lambda case: case.configured is None, "no action configured for this budget (alert only)"
    ),
    # Said on every alert of the budget, so the team can fix it before the spend reaches 100 %.
    ActionRule("refused action", lambda case: bool(case.refusal), "{refusal}"),
    ActionRule("alert-only action", lambda case: case.configured != "stop", "action '{configured}' is alert only"),
    ActionRule("unknown period", lambda case: not case.period.known, UNKNOWN_PERIOD),
    ActionRule(
        "implausible figure",
        lambda case: anomaly(case.notification, case.anomaly_multiple),
        "suspected billing-estimate anomaly: no action taken",
    ),
    ActionRule("forecast", lambda case: case.notification.alert_type != "ACTUAL", "forecasts never trigger actions"),
    ActionRule("below the budget", lambda case: case.threshold < 100, "{threshold} % is below 100 %"),
    ActionRule("production", lambda case: case.environment == "prod", "budget actions never stop production services"),
)


def judge_action(
    notification: BudgetNotification,
    period: Period,
    configured: str | None,
    anomaly_multiple: int,
    environment: str,
    *,
    refusal: str = "",
) -> ActionVerdict:
    """Act only where the team asked, on real (ACTUAL) spend at or over the budget in a period Steward could read,
    never on an implausible figure nor with an action its settings refused."""
    case = ActionCase(notification, period, configured, anomaly_multiple, environment, refusal)
    for rule in NO_ACTION_RULES:
        if rule.holds(case):
            reason = rule.reason.format(configured=case.configured, threshold=case.threshold, refusal=case.refusal)
            return ActionVerdict(False, reason)
    return ActionVerdict(True, f"ACTUAL spend reached {case.threshold} % of the budget")


class AlertDecision(Struct, frozen=True):
    """What one budget notification asks for: an alert (once per threshold and period, escalating), and whether the
    configured action runs, with the reason either way."""

    notification: BudgetNotification
    period: Period
    verdict: ActionVerdict
    selector: dict[str, str]  # the tags of the services the action may stop
    anomalous: bool  # an implausible figure: alerted as a suspected anomaly

    @property
    def threshold(self) -> Decimal:
        return self.notification.threshold_percent


def decide_alert(
    notification: BudgetNotification,
    at: datetime,
    configured: str | None,
    selector: dict[str, str],
    *,
    anomaly_multiple: int,
    environment: str,
    refusal: str = "",
) -> AlertDecision:
    """The period the notification speaks of, and the verdict on the action configured for its budget."""
    period = budget_period(notification, at)
    verdict = judge_action(notification, period, configured, anomaly_multiple, environment, refusal=refusal)
    return AlertDecision(notification, period, verdict, selector, anomaly(notification, anomaly_multiple))


class BudgetStop(Struct, frozen=True):
    """A service the budget action holds at zero, and the record that brings it back when the period resets."""

    service: ServiceView
    restore: RestoreRecord


def stop_candidates(
    services: Iterable[ServiceView], held: Mapping[str, OffHoursRecord], selector: dict[str, str], now: datetime
) -> list[ServiceView]:
    """Every selected, unprotected, running service Steward does not already hold, exactly as off-hours would."""
    return select_for_stop(services, held, selector, now).candidates


class Selection(Struct, frozen=True):
    """What a stop action's selector found: the services and databases it stops, and why the other matches are
    spared."""

    selector: dict[str, str]
    candidates: list[ServiceView]
    spared: dict[str, str]  # service key → why it is not stopped
    databases: list[DatabaseView] = []  # the databases it stops
    spared_databases: dict[str, str] = {}  # 'instance/ID' or 'cluster/ID' → why it is not stopped

    @property
    def matched(self) -> int:
        return len(self.candidates) + len(self.spared) + self.matched_databases

    @property
    def matched_databases(self) -> int:
        return len(self.databases) + len(self.spared_databases)

    @property
    def has_work(self) -> bool:
        return bool(self.candidates or self.databases)

    def nothing_to_stop(self) -> str:
        """Why the action stopped nothing, naming the selector (the alert says it instead of an empty list)."""
        words = describe_selector(self.selector)
        if not self.matched:
            return (
                f"the selector {words} matches no service or database in this stack's scope (a service or database "
                "must carry every one of these tags): nothing stopped; check the selector in the BudgetActions "
                "parameter against your services' and databases' tags"
            )
        reasons = sorted(set(self.spared.values()) | set(self.spared_databases.values()))
        services = self.matched - self.matched_databases
        counts = ((services, "service(s)"), (self.matched_databases, "database(s)"))
        found = " and ".join(f"{count} {what}" for count, what in counts if count)
        return f"the selector {words} matches {found}, none of them to stop ({'; '.join(reasons)}): nothing stopped"


def select_for_stop(
    services: Iterable[ServiceView], held: Mapping[str, OffHoursRecord], selector: dict[str, str], now: datetime
) -> Selection:
    """The services carrying every selector tag, split into those to stop and those spared (with why)."""
    candidates: list[ServiceView] = []
    spared: dict[str, str] = {}
    for view in services:
        if not (view.exists and selected(view.tags, selector)):
            continue
        why = spared_because(view, held, now)
        if why is None:
            candidates.append(view)
        else:
            spared[view.key] = why
    return Selection(dict(selector), candidates, spared)


def spared_because(view: ServiceView, held: Mapping[str, OffHoursRecord], now: datetime) -> str | None:
    """Why a selected service is not stopped, exactly as off-hours would spare it; None when it is stopped."""
    if view.protected:
        return "steward:protected"
    if kept_awake(view, now):
        return "kept awake by steward:keep-awake-until"
    if view.scheduling_strategy == "DAEMON":
        return "a DAEMON service"
    if view.desired_count <= 0:
        return "already at 0 tasks"
    if view.key in held and held[view.key].restore:
        return "already held at zero by Steward"
    return None


def budget_stop(
    decision: AlertDecision, service: ServiceView, target: ScalableTarget | None, now: datetime
) -> BudgetStop:
    """Held until the budget period resets; one edge per budget and period, so a repeat never stops it twice."""
    by = f"budget:{decision.notification.budget_name}"
    restore = RestoreRecord(
        desired_count=service.desired_count,
        target=target,
        stopped_at=now,
        stopped_by=by,
        edge_id=f"{by}@{decision.period.key}",
        hold_until=decision.period.resets_at,
    )
    return BudgetStop(service, restore)


# ------------------------------------------------------------------------------------------ databases

DbSpareRule = Callable[[DatabaseView, Mapping[str, DatabaseRecord], datetime], str | None]


def _engine_not_ours(db: DatabaseView, _records: Mapping[str, DatabaseRecord], _now: datetime) -> str | None:
    return None if db.handled else f"engine {db.engine}: Steward stops RDS and Aurora databases only"


def _db_protected(db: DatabaseView, _records: Mapping[str, DatabaseRecord], _now: datetime) -> str | None:
    return PROTECTED_TAG if db.protected else None


def _db_kept_awake(db: DatabaseView, _records: Mapping[str, DatabaseRecord], now: datetime) -> str | None:
    until = db.keep_awake
    awake = isinstance(until, InvalidTag) or (until is not None and until > now)
    return f"kept awake by {KEEP_AWAKE_TAG}" if awake else None


def _aws_cannot(db: DatabaseView, _records: Mapping[str, DatabaseRecord], _now: datetime) -> str | None:
    return db.refusal


def _db_held(db: DatabaseView, records: Mapping[str, DatabaseRecord], _now: datetime) -> str | None:
    record = records.get(db.key)
    return "already held stopped by Steward" if record is not None and record.hold is not None else None


def _not_available(db: DatabaseView, _records: Mapping[str, DatabaseRecord], _now: datetime) -> str | None:
    if db.status in ("stopped", "stopping"):
        return f"already {db.status}"
    # StopDBInstance and StopDBCluster need the database `available` (RDS API Reference, InvalidDBInstanceState).
    return None if db.status == "available" else f"{db.status}: AWS stops only an available database"


# In order, as off-hours spares a database: the first rule with a reason spares it.
DB_SPARE_RULES: tuple[DbSpareRule, ...] = (
    _engine_not_ours,
    _db_protected,
    _db_kept_awake,
    _aws_cannot,
    _db_held,
    _not_available,
)


def database_spared_because(db: DatabaseView, records: Mapping[str, DatabaseRecord], now: datetime) -> str | None:
    """Why a selected database is not stopped (what AWS cannot stop, with AWS's reason); None when it is stopped."""
    return next((why for rule in DB_SPARE_RULES if (why := rule(db, records, now)) is not None), None)


def with_databases(
    selection: Selection,
    databases: Iterable[DatabaseView],
    records: Mapping[str, DatabaseRecord],
    now: datetime,
) -> Selection:
    """The selection, plus the databases in scope carrying every selector tag: those to stop and those spared."""
    candidates: list[DatabaseView] = []
    spared: dict[str, str] = {}
    for db in databases:
        if not (db.exists and selected(db.tags, selection.selector)):
            continue
        why = database_spared_because(db, records, now)
        if why is None:
            candidates.append(db)
        else:
            spared[db.key] = why
    return replace(selection, databases=candidates, spared_databases=spared)


class BudgetDbStop(Struct, frozen=True):
    """A database the budget action holds stopped, and the hold that brings it back when the period resets (or at
    its next scheduled start, whichever off-hours sees first)."""

    database: DatabaseView
    hold: DatabaseHold


def budget_db_stop(decision: AlertDecision, db: DatabaseView, now: datetime) -> BudgetDbStop:
    """Held until the budget period resets; one edge per budget and period, as for services."""
    by = f"budget:{decision.notification.budget_name}"
    hold = DatabaseHold(
        stopped_at=now,
        stopped_by=by,
        edge_id=f"{by}@{decision.period.key}",
        last_stop_at=now,
        classes=db.classes,
        hold_until=decision.period.resets_at,
        engine=db.engine,
    )
    return BudgetDbStop(db, hold)


def anomaly(notification: BudgetNotification, anomaly_multiple: int) -> bool:
    return notification.reported_amount > notification.budgeted_amount * anomaly_multiple


def selected(tags: dict[str, str], selector: dict[str, str]) -> bool:
    """A service is in the action's scope when it carries every selector tag with that value."""
    return all(tags.get(key) == value for key, value in selector.items())


def describe_selector(selector: dict[str, str]) -> str:
    """'env=dev, team=data': the selector as the tags a service must carry."""
    return ", ".join(f"{key}={value}" for key, value in selector.items()) or "(empty)"
