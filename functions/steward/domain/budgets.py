"""Budget alert decisions: which period an alert belongs to, whether it is news, and whether to act on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from steward.models.budgets import BudgetNotification

PROTECTED_TAG = "steward:protected"


@dataclass(frozen=True)
class Period:
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


@dataclass(frozen=True)
class ActionVerdict:
    act: bool
    reason: str


UNKNOWN_PERIOD = "the budget period could not be read from the notification: alert only"


def judge_action(
    notification: BudgetNotification, period: Period, configured: str | None, anomaly_multiple: int, environment: str
) -> ActionVerdict:
    """Act only where the team asked, on real (ACTUAL) spend at or over the budget in a period Steward could read,
    never on an implausible figure."""
    if configured is None:
        return ActionVerdict(False, "no action configured for this budget (alert only)")
    if configured != "stop":
        return ActionVerdict(False, f"action '{configured}' is alert only")
    if not period.known:
        return ActionVerdict(False, UNKNOWN_PERIOD)
    if anomaly(notification, anomaly_multiple):
        return ActionVerdict(False, "suspected billing-estimate anomaly: no action taken")
    if notification.alert_type != "ACTUAL":
        return ActionVerdict(False, "forecasts never trigger actions")
    if notification.threshold_percent < 100:
        return ActionVerdict(False, f"{notification.threshold_percent} % is below 100 %")
    if environment == "prod":
        return ActionVerdict(False, "budget actions never stop production services")
    return ActionVerdict(True, f"ACTUAL spend reached {notification.threshold_percent} % of the budget")


def anomaly(notification: BudgetNotification, anomaly_multiple: int) -> bool:
    return notification.reported_amount > notification.budgeted_amount * anomaly_multiple


def selected(tags: dict[str, str], selector: dict[str, str]) -> bool:
    """A service is in the action's scope when it carries every selector tag with that value."""
    return all(tags.get(key) == value for key, value in selector.items())


def money(amount: Decimal, unit: str) -> str:
    """'$503.90', '€90.00', '12.50 USD': the unit Budgets or Cost Explorer gave, never an assumed dollar."""
    figure = f"{amount.quantize(Decimal('0.01')):,}"
    if len(unit) == 1 and not unit.isalnum():
        return f"{unit}{figure}"
    return f"{figure} {unit}".strip()
