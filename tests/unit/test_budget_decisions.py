"""Budget decisions: the period an alert belongs to and when an action is allowed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from steward.domain.budgets import budget_period, judge_action, money, selected
from steward.models.budgets import BudgetNotification


def notification(
    alert: str = "ACTUAL", threshold: str = "500", reported: str = "503.90", period: str = "month"
) -> BudgetNotification:
    return BudgetNotification(
        budget_name="dev-monthly",
        budget_type="Cost",
        budgeted_amount=Decimal("500"),
        currency="$",
        alert_type=alert,
        threshold_amount=Decimal(threshold),
        reported_amount=Decimal(reported),
        period_text=period,
    )


def test_periods_follow_the_budgets_calendar() -> None:
    december = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert budget_period(notification(), december).key == "2026-12"
    assert budget_period(notification(), december).end == date(2027, 1, 1)
    assert budget_period(notification(period="day"), december).key == "2026-12-31"
    assert budget_period(notification(period="quarter"), december).key == "2026-Q4"
    assert budget_period(notification(period="quarter"), december).end == date(2027, 1, 1)


@pytest.mark.parametrize(
    ("alert", "threshold", "reported", "configured", "environment", "act", "reason"),
    [
        ("ACTUAL", "500", "503.90", "stop", "dev", True, "reached 100.0 %"),
        ("ACTUAL", "400", "412.37", "stop", "dev", False, "below 100 %"),
        ("FORECASTED", "500", "510", "stop", "dev", False, "forecasts never"),
        ("FORECASTED", "500", "183965812157.54", "stop", "dev", False, "anomaly"),
        ("ACTUAL", "500", "5001", "stop", "dev", False, "anomaly"),
        ("ACTUAL", "500", "503.90", None, "dev", False, "alert only"),
        ("ACTUAL", "500", "503.90", "stop", "prod", False, "never stop production"),
    ],
)
def test_actions_only_on_real_spend_over_budget_where_configured(
    alert: str, threshold: str, reported: str, configured: str | None, environment: str, act: bool, reason: str
) -> None:
    verdict = judge_action(notification(alert, threshold, reported), configured, 10, environment)
    assert verdict.act is act
    assert reason in verdict.reason


def test_selectors_and_money() -> None:
    assert selected({"env": "dev", "team": "x"}, {"env": "dev"})
    assert not selected({"env": "prod"}, {"env": "dev"})
    assert money(Decimal("1234.5"), "$") == "$1,234.50"
    assert money(Decimal("12"), "EUR") == "12.00 EUR"
