"""The digest as values: the window, the comparisons, the monthly summary and the savings arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from steward.domain.costs import (
    CostRow,
    build_digest,
    digest_window,
    month_end_forecast,
    price_task_hours,
    task_hours_within,
)
from steward.reports.cost_report import change, render_digest, sparkline


def rows(day_from: date, day_to: date, amounts: dict[str, str]) -> list[CostRow]:
    days = [day_from + timedelta(days=n) for n in range((day_to - day_from).days + 1)]
    return [CostRow(day, name, Decimal(amount), "USD") for day in days for name, amount in amounts.items()]


def test_yesterday_is_the_last_full_utc_day_and_the_window_covers_the_comparisons() -> None:
    assert digest_window(date(2026, 11, 28)) == (date(2026, 11, 1), date(2026, 11, 28))
    assert digest_window(date(2026, 11, 5)) == (date(2026, 10, 21), date(2026, 11, 5))  # 15 full days
    assert digest_window(date(2026, 12, 1)) == (date(2026, 11, 1), date(2026, 12, 1))  # all of November


def test_comparisons_month_to_date_and_the_monthly_summary_on_the_first() -> None:
    data = rows(date(2026, 11, 1), date(2026, 11, 30), {"api": "10", "": "1"})
    data.append(CostRow(date(2026, 11, 30), "api", Decimal("5"), "USD"))
    digest = build_digest(data, date(2026, 12, 1), forecast="no data", budget=None)
    api = next(s for s in digest.services if s.name == "api")
    assert (api.yesterday, api.day_before, api.week_before) == (Decimal(15), Decimal(10), Decimal(10))
    assert api.month_to_date == Decimal(305)
    assert digest.previous_month == (("api", Decimal(305)), ("(untagged)", Decimal(30)))
    assert digest.previous_month_label == "November 2026"
    message = render_digest(digest, "dev", 10)
    assert message.replies and message.replies[-1].text == "November 2026: 335.00 USD"


def test_changes_and_sparklines_read_at_a_glance() -> None:
    assert change(Decimal(12), Decimal(10)) == "▲20%"
    assert change(Decimal(8), Decimal(10)) == "▼20%"
    assert change(Decimal(3), Decimal(0)) == "new"
    assert sparkline([Decimal(0), Decimal(5), Decimal(10)]) == "▁▄█"


def test_savings_count_only_the_hours_of_yesterday_and_are_priced_from_the_task_size() -> None:
    day = date(2026, 11, 27)
    stopped, started = datetime(2026, 11, 26, 19, 0, tzinfo=UTC), datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    assert task_hours_within(2, stopped, started, day) == Decimal(12)  # 00:00–06:00, two tasks
    # 1 vCPU, 2 GB for 10 hours at eu-central-1 x86 rates.
    assert price_task_hours(Decimal(10), 1024, 2048, "eu-central-1") == Decimal("10") * (
        Decimal("0.04656") + 2 * Decimal("0.00511")
    )


def test_spot_tasks_follow_the_strategy_base_first_then_weights() -> None:
    from steward.domain.services import StrategyItem, spot_tasks

    spot = {"FARGATE_SPOT"}
    assert (
        spot_tasks((StrategyItem("FARGATE_SPOT", 3, 1), StrategyItem("FARGATE", 1, 0)), 5, spot) == 4
    )  # 1 base + 3 of 4
    assert (
        spot_tasks((StrategyItem("FARGATE", 1, 2), StrategyItem("FARGATE_SPOT", 1, 0)), 2, spot) == 0
    )  # base takes all
    assert spot_tasks((StrategyItem("FARGATE", 1, 0),), 4, spot) == 0


def test_the_savings_line_separates_kept_off_from_spot() -> None:
    from steward.domain.costs import Saving
    from steward.reports.cost_report import savings_text

    text = savings_text(
        (Saving("a", Decimal(10), Decimal("1.50")), Saving("b", Decimal(48), Decimal("3.25"), kind="on Spot")), "USD"
    )
    assert text.startswith("*Saved yesterday* about 4.75 USD: 1.50 USD for 10 task-hours kept off")
    assert "3.25 USD for 48 task-hours on Fargate Spot, not on-demand" in text


def test_the_month_end_forecast_is_month_to_date_plus_cost_explorers_forecast_for_the_rest_of_the_month() -> None:
    november = rows(date(2026, 11, 1), date(2026, 11, 27), {"api": "10", "": "1"})  # 297 so far

    digest = build_digest(november, date(2026, 11, 28), forecast=(Decimal("35.50"), "USD"), budget=None)

    assert digest.forecast == (Decimal("332.50"), "USD")


def test_on_the_first_the_forecast_holds_none_of_last_months_actuals() -> None:
    november = rows(date(2026, 11, 1), date(2026, 11, 30), {"api": "10"})

    digest = build_digest(november, date(2026, 12, 1), forecast=(Decimal("310.00"), "USD"), budget=None)

    assert digest.forecast == (Decimal("310.00"), "USD")
    assert digest.month_to_date == Decimal(300)  # November's total, the thread's monthly summary


def test_a_forecast_that_cannot_be_added_to_the_actuals_is_not_shown_as_a_sum() -> None:
    november = rows(date(2026, 11, 1), date(2026, 11, 27), {"api": "10"})
    today = date(2026, 11, 28)

    assert month_end_forecast(november, today, "DataUnavailableException: no data") == (
        "DataUnavailableException: no data"
    )
    assert "EUR" in str(month_end_forecast(november, today, (Decimal(30), "EUR")))
    assert month_end_forecast([], today, (Decimal(30), "USD")) == (Decimal(30), "USD")


def test_savings_price_yesterdays_kept_off_hours_and_a_full_day_of_spot_tasks_for_services_that_still_exist() -> None:
    from steward.domain.costs import Saving, priced_savings, task_hours_saved
    from steward.domain.services import KeptOff, ServiceView

    day = date(2026, 11, 27)
    api = ServiceView("dev", "api", "arn:api", 2, {}, task_definition="api:3")
    worker = ServiceView("dev", "worker", "arn:worker", 4, {}, task_definition="worker:1", fargate_spot_tasks=3)
    held_now = KeptOff(
        "dev/api", 2, datetime(2026, 11, 26, 19, 0, tzinfo=UTC), datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    )
    gone = KeptOff(
        "dev/retired", 5, datetime(2026, 11, 26, 19, 0, tzinfo=UTC), datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    )
    last_week = KeptOff(
        "dev/api", 2, datetime(2026, 11, 19, 19, 0, tzinfo=UTC), datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    )

    saved = task_hours_saved([held_now, gone, last_week], [api, worker], day)
    savings = priced_savings(saved, {"api:3": (1024, 2048, "X86_64"), "worker:1": (512, 1024, "ARM64")}, "eu-central-1")

    assert savings == [
        Saving("dev/api", Decimal(48), price_task_hours(Decimal(48), 1024, 2048, "eu-central-1")),
        Saving(
            "dev/worker",
            Decimal(72),
            price_task_hours(Decimal(72), 512, 1024, "eu-central-1", "ARM64") * Decimal("0.70"),
            kind="on Spot",
        ),
    ]


def test_a_running_service_is_oversized_only_when_both_cpu_and_memory_stayed_under_twenty_percent() -> None:
    from steward.domain.costs import Oversized, oversized, running
    from steward.domain.services import ServiceView

    services = [
        ServiceView("dev", name, f"arn:{name}", desired, {})
        for name, desired in (("idle", 1), ("busy", 1), ("quiet", 1), ("stopped", 0))
    ]
    candidates = running(services)

    hints = oversized(candidates, [(5.0, 8.0), (5.0, 45.0), (3.0, None)])

    assert [view.name for view in candidates] == ["idle", "busy", "quiet"]
    assert hints == [Oversized("dev/idle", 5.0, 8.0)]
