"""Budget decisions: the period an alert belongs to, the cost-driver window, and when an action is allowed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal

import pytest

from steward.domain.budgets import (
    Period,
    budget_period,
    budget_stop,
    cost_driver_window,
    decide_alert,
    judge_action,
    selected,
    stop_candidates,
)
from steward.domain.services import OffHoursRecord, RestoreRecord, ScalableTarget, ServiceView
from steward.domain.slack import money
from steward.models.budgets import BudgetNotification

TimeUnit = Literal["DAILY", "MONTHLY"] | None


def notification(
    alert: str = "ACTUAL", threshold: str = "500", reported: str = "503.90", time_unit: TimeUnit = "MONTHLY"
) -> BudgetNotification:
    return BudgetNotification(
        budget_name="dev-monthly",
        budget_type="Cost",
        budgeted_amount=Decimal("500"),
        currency="$",
        alert_type=alert,
        threshold_amount=Decimal(threshold),
        reported_amount=Decimal(reported),
        time_unit=time_unit,
    )


@pytest.mark.parametrize(
    ("time_unit", "at", "key", "start", "end", "resets_at"),
    [
        # A daily notification reports yesterday's spend ("per day. Yesterday, …"): its period is yesterday (UTC).
        ("DAILY", "2026-11-27T01:01:38Z", "2026-11-26", "2026-11-26", "2026-11-27", "2026-11-28T00:00:00Z"),
        ("DAILY", "2026-12-01T00:30:00Z", "2026-11-30", "2026-11-30", "2026-12-01", "2026-12-02T00:00:00Z"),
        ("DAILY", "2027-01-01T06:00:00+05:00", "2026-12-31", "2026-12-31", "2027-01-01", "2027-01-02T00:00:00Z"),
        ("MONTHLY", "2026-12-31T23:30:00Z", "2026-12", "2026-12-01", "2027-01-01", "2027-01-01T00:00:00Z"),
        ("MONTHLY", "2026-11-27T21:05:40Z", "2026-11", "2026-11-01", "2026-12-01", "2026-12-01T00:00:00Z"),
    ],
)
def test_the_period_is_the_one_the_notification_speaks_of(
    time_unit: TimeUnit, at: str, key: str, start: str, end: str, resets_at: str
) -> None:
    period = budget_period(notification(time_unit=time_unit), datetime.fromisoformat(at))

    assert period.known
    assert (period.key, period.start, period.end) == (key, date.fromisoformat(start), date.fromisoformat(end))
    assert period.resets_at == datetime.fromisoformat(resets_at)


def test_an_unreadable_period_is_unknown_never_assumed_monthly() -> None:
    period = budget_period(notification(time_unit=None), datetime(2026, 11, 27, 21, 5, tzinfo=UTC))

    assert not period.known
    assert period.key == "unknown@2026-11-27"  # repeats of one alert on one day still escalate only once
    assert cost_driver_window(period, datetime(2026, 11, 27, 21, 5, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("start", "end", "at", "window"),
    [
        ("2026-11-26", "2026-11-27", "2026-11-27T01:00:00Z", ("2026-11-26", "2026-11-27")),
        ("2026-11-01", "2026-12-01", "2026-11-27T21:00:00Z", ("2026-11-01", "2026-12-01")),
        # A period reaching past next month (a quarter, a year) is cut at the 1st of the month after the alert.
        ("2026-10-01", "2027-01-01", "2026-11-27T09:00:00Z", ("2026-10-01", "2026-12-01")),
        ("2026-01-01", "2027-01-01", "2026-12-31T23:00:00Z", ("2026-01-01", "2027-01-01")),
        ("2026-01-01", "2027-01-01", "2026-02-10T09:00:00Z", ("2026-01-01", "2026-03-01")),
    ],
)
def test_the_cost_driver_window_never_ends_past_the_first_of_next_month(
    start: str, end: str, at: str, window: tuple[str, str]
) -> None:
    instant = datetime.fromisoformat(at)
    period = Period("MONTHLY", "p", date.fromisoformat(start), date.fromisoformat(end), instant)

    assert cost_driver_window(period, instant) == (date.fromisoformat(window[0]), date.fromisoformat(window[1]))


@pytest.mark.parametrize(
    ("alert", "threshold", "reported", "configured", "environment", "time_unit", "act", "reason"),
    [
        ("ACTUAL", "500", "503.90", "stop", "dev", "MONTHLY", True, "reached 100.0 %"),
        ("ACTUAL", "500", "503.90", "stop", "dev", "DAILY", True, "reached 100.0 %"),
        ("ACTUAL", "400", "412.37", "stop", "dev", "MONTHLY", False, "below 100 %"),
        ("FORECASTED", "500", "510", "stop", "dev", "MONTHLY", False, "forecasts never"),
        ("FORECASTED", "500", "183965812157.54", "stop", "dev", "MONTHLY", False, "anomaly"),
        ("ACTUAL", "500", "5001", "stop", "dev", "MONTHLY", False, "anomaly"),
        ("ACTUAL", "500", "503.90", None, "dev", "MONTHLY", False, "alert only"),
        ("ACTUAL", "500", "503.90", "stop", "prod", "MONTHLY", False, "never stop production"),
        ("ACTUAL", "500", "503.90", "stop", "dev", None, False, "budget period could not be read"),
    ],
)
def test_actions_only_on_real_spend_over_budget_in_a_known_period_where_configured(
    alert: str,
    threshold: str,
    reported: str,
    configured: str | None,
    environment: str,
    time_unit: TimeUnit,
    act: bool,
    reason: str,
) -> None:
    subject = notification(alert, threshold, reported, time_unit)
    period = budget_period(subject, datetime(2026, 11, 27, 21, 5, tzinfo=UTC))

    verdict = judge_action(subject, period, configured, 10, environment)

    assert verdict.act is act
    assert reason in verdict.reason


def test_selectors_and_money() -> None:
    assert selected({"env": "dev", "team": "x"}, {"env": "dev"})
    assert not selected({"env": "prod"}, {"env": "dev"})
    assert money(Decimal("1234.5"), "$") == "1,234.50 USD"  # one format: the figure, then the currency code
    assert money(Decimal("12"), "EUR") == "12.00 EUR"


NOW = datetime(2026, 11, 27, 21, 5, tzinfo=UTC)
HELD = RestoreRecord(desired_count=2, target=None, stopped_at=NOW, stopped_by="schedule", edge_id="e")


def service(name: str = "api", desired: int = 2, **tags: str) -> ServiceView:
    return ServiceView(
        "dev", name, f"arn:aws:ecs:eu-central-1:111122223333:service/dev/{name}", desired, {"env": "dev", **tags}
    )


@pytest.mark.parametrize(
    ("view", "held", "in_scope"),
    [
        (service(), None, True),
        (service(env="prod"), None, False),
        (service(**{"steward:protected": "true"}), None, False),
        (service(**{"steward:keep-awake-until": "2026-11-27T23:00:00Z"}), None, False),
        (service(**{"steward:keep-awake-until": "2026-11-27T20:00:00Z"}), None, True),
        (service(desired=0), None, False),
        (ServiceView("dev", "agent", "arn", 1, {"env": "dev"}, scheduling_strategy="DAEMON"), None, False),
        (ServiceView("dev", "gone", "arn", 1, {"env": "dev"}, exists=False), None, False),
        (service(), OffHoursRecord("e", HELD), False),  # Steward holds it already: its record stays as it is
        (service(), OffHoursRecord("e"), True),  # an off edge handled while it was at zero: nothing held
    ],
)
def test_a_budget_stop_takes_only_selected_running_services_nobody_protects_or_steward_already_holds(
    view: ServiceView, held: OffHoursRecord | None, in_scope: bool
) -> None:
    records = {view.key: held} if held else {}

    assert stop_candidates([view], records, {"env": "dev"}, NOW) == ([view] if in_scope else [])


def test_a_budget_stop_holds_until_the_budget_resets_once_per_budget_and_period() -> None:
    decision = decide_alert(notification(), NOW, "stop", {"env": "dev"}, anomaly_multiple=10, environment="dev")
    target = ScalableTarget(1, 4)

    stop = budget_stop(decision, service(desired=3), target, NOW)

    assert decision.verdict.act
    assert stop.restore == RestoreRecord(
        desired_count=3,
        target=target,
        stopped_at=NOW,
        stopped_by="budget:dev-monthly",
        edge_id="budget:dev-monthly@2026-11",
        hold_until=datetime(2026, 12, 1, tzinfo=UTC),
    )
