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
from steward.domain.slack import money
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
    savings = priced_savings(
        saved, {"api:3": (1024, 2048, "X86_64", ("FARGATE",)), "worker:1": (512, 1024, "ARM64", ())}, "eu-central-1"
    )

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


def test_task_hours_kept_off_ec2_capacity_are_counted_but_not_priced_as_fargate() -> None:
    from steward.domain.costs import ON_EC2, Saving, priced_savings, task_hours_saved
    from steward.domain.services import KeptOff, ServiceView
    from steward.reports.cost_report import savings_text

    # Given one service per way ECS says where its tasks run
    day = date(2026, 11, 27)
    on_asg = ServiceView("dev", "asg", "arn:asg", 2, {}, task_definition="t:1", capacity_providers=("dev-asg",))
    ec2 = ServiceView("dev", "ec2", "arn:ec2", 2, {}, task_definition="t:1", launch_type="EC2")
    fargate = ServiceView("dev", "fargate", "arn:f", 2, {}, task_definition="t:1", launch_type="FARGATE")
    only_fargate = ServiceView("dev", "only", "arn:o", 2, {}, task_definition="f:1", launch_type="EC2")
    night = (datetime(2026, 11, 26, 19, 0, tzinfo=UTC), datetime(2026, 11, 27, 6, 0, tzinfo=UTC))
    held = [KeptOff(view.key, 2, *night) for view in (on_asg, ec2, fargate, only_fargate)]
    sizes = {"t:1": (1024, 2048, "X86_64", ("EC2", "FARGATE")), "f:1": (1024, 2048, "X86_64", ("FARGATE",))}

    # When the digest prices what they kept off
    savings = priced_savings(task_hours_saved(held, [on_asg, ec2, fargate, only_fargate], day), sizes, "eu-central-1")

    # Then the ones on EC2 capacity save nothing priced; a Fargate-only task definition runs on Fargate
    fargate_price = price_task_hours(Decimal(12), 1024, 2048, "eu-central-1")
    assert savings == [
        Saving("dev/asg", Decimal(12), Decimal(0), kind=ON_EC2),
        Saving("dev/ec2", Decimal(12), Decimal(0), kind=ON_EC2),
        Saving("dev/fargate", Decimal(12), fargate_price),
        Saving("dev/only", Decimal(12), fargate_price),
    ]
    text = savings_text(tuple(savings), "USD")
    assert text.startswith(f"*Saved yesterday* about {money(2 * fargate_price, 'USD')}: ")
    assert (
        "*Kept off EC2 capacity* 24 task-hours (2 service(s)), not priced: their EC2 instances run and bill until "
        "their Auto Scaling group scales in" in text
    )


def test_database_hours_are_priced_per_instance_class_only_where_a_list_price_is_on_file() -> None:
    from steward.domain.costs import database_savings
    from steward.domain.databases import DbKeptOff
    from steward.reports.cost_report import database_savings_text

    # Given a PostgreSQL instance and an Aurora cluster of two held stopped from Thursday 19:00 UTC, and a MySQL one
    day = date(2026, 11, 27)
    night = (datetime(2026, 11, 26, 19, 0, tzinfo=UTC), datetime(2026, 11, 28, 7, 0, tzinfo=UTC))
    held = [
        DbKeptOff("instance/orders", "postgres", ("db.t4g.medium",), *night),
        DbKeptOff("cluster/analytics", "aurora-postgresql", ("db.r6g.large", "db.r6g.large"), *night),
        DbKeptOff("instance/legacy", "mysql", ("db.t4g.medium",), *night),
        DbKeptOff("instance/last-week", "postgres", ("db.t4g.medium",), night[0] - timedelta(days=7), night[0]),
    ]

    # When the digest prices yesterday's hours in us-east-1, where prices are on file
    savings = database_savings(held, day, "us-east-1")

    # Then each class is priced at its list price, the MySQL hours shown without a price
    text = database_savings_text(tuple(savings))
    orders, aurora = Decimal(24) * Decimal("0.065"), Decimal(48) * Decimal("0.260")
    assert text.startswith(
        f"*Databases stopped yesterday* 96 instance-hours ≈ {money(orders + aurora, 'USD')} for the hours with a "
        "price on file _(estimate at on-demand instance-hour prices; storage and backups are still billed while "
        "stopped)_"
    )
    assert (
        "• 48 h of `db.r6g.large` (1 database(s)) at 0.260 USD/h ≈ 12.48 USD _(Aurora, us-east-1 Single-AZ list "
        "price; aws/agent-toolkit-for-aws Aurora pricing table, 2026)_" in text
    )
    assert "• 24 h of `db.t4g.medium` (1 database(s)) at 0.065 USD/h ≈ 1.56 USD _(RDS for PostgreSQL" in text
    assert "• 24 h of `db.t4g.medium` (1 database(s)): no price on file for us-east-1" in text

    # And in a region with no prices on file, the hours only
    elsewhere = database_savings_text(tuple(database_savings(held[:1], day, "eu-central-1")))
    assert elsewhere.startswith("*Databases stopped yesterday* 24 instance-hours _(estimate")
    assert "• 24 h of `db.t4g.medium` (1 database(s)): no price on file for eu-central-1" in elsewhere


def test_the_digest_says_what_the_database_hours_saved_cost_and_on_what_basis() -> None:
    from steward.domain.costs import database_savings
    from steward.domain.databases import DbKeptOff

    # Given Friday's rows and the platform's PostgreSQL and Aurora writer stopped from Thursday 19:10 UTC (us-east-1)
    night = (datetime(2026, 11, 26, 19, 10, tzinfo=UTC), datetime(2026, 11, 27, 5, 45, tzinfo=UTC))
    held = [
        DbKeptOff("instance/pyairtable-postgres", "postgres", ("db.t4g.medium",), *night),
        DbKeptOff("cluster/pyairtable-aurora", "aurora-postgresql", ("db.r6g.large",), *night),
    ]
    saved = database_savings(held, date(2026, 11, 27), "us-east-1")
    digest = build_digest(
        rows(date(2026, 11, 1), date(2026, 11, 27), {"api": "10"}),
        date(2026, 11, 28),
        forecast="no forecast",
        budget=None,
        database_savings=saved,
    )

    # When the digest is rendered
    text = "\n".join(block.get("text", {}).get("text", "") for block in render_digest(digest, "dev", 10).blocks)

    # Then 5.75 h of each class are priced at its list price: 0.37 + 1.50 USD
    assert (
        "*Databases stopped yesterday* 11.5 instance-hours ≈ 1.87 USD _(estimate at on-demand instance-hour prices; "
        "storage and backups are still billed while stopped)_" in text
    )
    assert "• 5.8 h of `db.t4g.medium` (1 database(s)) at 0.065 USD/h ≈ 0.37 USD _(RDS for PostgreSQL" in text
    assert "• 5.8 h of `db.r6g.large` (1 database(s)) at 0.260 USD/h ≈ 1.50 USD _(Aurora, us-east-1 Single-AZ" in text
