"""Budget alert decisions: which period an alert belongs to, whether it is news, and whether to act on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from steward.models.budgets import BudgetNotification

PROTECTED_TAG = "steward:protected"


@dataclass(frozen=True)
class Period:
    key: str  # "2026-11" for a monthly budget, "2026-11-27" for a daily one
    start: date
    end: date  # exclusive

    @property
    def ends_at(self) -> datetime:
        return datetime.combine(self.end, time(0), tzinfo=UTC)


def budget_period(notification: BudgetNotification, at: datetime) -> Period:
    """AWS Budgets periods are UTC calendar periods; the notification says which ("current month", "day" …)."""
    day = at.astimezone(UTC).date()
    kind = notification.period_text.lower()
    if kind == "day":
        return Period(day.isoformat(), day, day + timedelta(days=1))
    if kind == "quarter":
        first_month = 3 * ((day.month - 1) // 3) + 1
        start = date(day.year, first_month, 1)
        end = date(day.year + (first_month + 3 > 12), (first_month + 2) % 12 + 1, 1)
        return Period(f"{day.year}-Q{(day.month - 1) // 3 + 1}", start, end)
    if kind == "year":
        return Period(str(day.year), date(day.year, 1, 1), date(day.year + 1, 1, 1))
    start = date(day.year, day.month, 1)
    end = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return Period(start.strftime("%Y-%m"), start, end)


@dataclass(frozen=True)
class ActionVerdict:
    act: bool
    reason: str


def judge_action(
    notification: BudgetNotification, configured: str | None, anomaly_multiple: int, environment: str
) -> ActionVerdict:
    """Act only where the team asked, on real (ACTUAL) spend at or over the budget, never on an implausible figure."""
    if configured is None:
        return ActionVerdict(False, "no action configured for this budget (alert only)")
    if configured != "stop":
        return ActionVerdict(False, f"action '{configured}' is alert only")
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
