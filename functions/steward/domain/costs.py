"""The daily cost digest as values: per-service figures from one Cost Explorer query, what Steward saved (task-hours
and database instance-hours), and which services look oversized. Pure: no AWS, no clock, no Slack (the message is
built in steward.reports.cost_report)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from msgspec import Struct

from steward.domain.databases import DbKeptOff
from steward.domain.db_prices import HourlyPrice, engine_family, hourly_price
from steward.domain.services import KeptOff, ServiceView

UNTAGGED = "(untagged)"
ZERO = Decimal(0)
IDLE_PERCENT = 20.0  # a service whose 7-day average CPU and memory both stay under this could run smaller

# Fargate on-demand Linux list prices per vCPU-hour and per GB-hour, by region and CPU architecture, as of
# FARGATE_RATES_DATE. Kept small on purpose: the savings line is an estimate and says so; update it with the date.
FARGATE_RATES_DATE = "2026-11-01"
FARGATE_RATES = {
    "eu-central-1": {
        "X86_64": (Decimal("0.04656"), Decimal("0.00511")),
        "ARM64": (Decimal("0.03725"), Decimal("0.00409")),
    },
    "eu-west-1": {
        "X86_64": (Decimal("0.04048"), Decimal("0.004445")),
        "ARM64": (Decimal("0.03238"), Decimal("0.00356")),
    },
    "us-east-1": {
        "X86_64": (Decimal("0.04048"), Decimal("0.004445")),
        "ARM64": (Decimal("0.03238"), Decimal("0.00356")),
    },
    "us-west-2": {
        "X86_64": (Decimal("0.04048"), Decimal("0.004445")),
        "ARM64": (Decimal("0.03238"), Decimal("0.00356")),
    },
}

# Fargate Spot runs at up to 70 % off the on-demand price; the digest prices Spot's saving at that discount.
FARGATE_SPOT_DISCOUNT = Decimal("0.70")

KEPT_OFF, ON_SPOT = "kept off", "on Spot"
ON_EC2 = "kept off on EC2"  # task-hours kept off EC2 capacity: not priced, see `runs_on_fargate`
FARGATE_PROVIDERS = frozenset({"FARGATE", "FARGATE_SPOT"})

# CPU units, memory MiB, CPU architecture, requiresCompatibilities of a task definition
TaskSize = tuple[int, int, str, tuple[str, ...]]


class CostRow(Struct, frozen=True):
    day: date
    tag_value: str
    amount: Decimal
    unit: str
    estimated: bool = False


class ServiceCosts(Struct, frozen=True):
    name: str  # the cost tag value; UNTAGGED for spend without it
    yesterday: Decimal
    day_before: Decimal
    week_before: Decimal  # the same weekday a week earlier
    last_seven: tuple[Decimal, ...]
    month_to_date: Decimal

    @property
    def day_change(self) -> Decimal:
        return self.yesterday - self.day_before


class TaskHoursSaved(Struct, frozen=True):
    service: ServiceView
    hours: Decimal
    kind: str  # KEPT_OFF or ON_SPOT


class Saving(Struct, frozen=True):
    service: str
    task_hours: Decimal
    amount: Decimal  # zero for ON_EC2: those hours are not priced
    kind: str = KEPT_OFF  # or ON_SPOT, ON_EC2


class DbSaving(Struct, frozen=True):
    """The hours one instance class of a database was held stopped on the digest's day, and its on-demand price per
    hour when one is on file (None: the hours are shown, never priced by a guess)."""

    database: str
    instance_class: str
    hours: Decimal
    price: HourlyPrice | None
    region: str = ""  # the stack's region, whose prices were looked up

    @property
    def amount(self) -> Decimal | None:
        return None if self.price is None else self.hours * self.price.amount


class Oversized(Struct, frozen=True):
    """A running service whose 7-day average CPU and memory utilisation both stayed under IDLE_PERCENT."""

    service: str  # cluster/service
    cpu: float
    memory: float


class Unavailable(Struct, frozen=True):
    """Why there is no digest today: Cost Explorer's own words. Never a digest of zeros instead."""

    reason: str


class Digest(Struct, frozen=True):
    yesterday: date
    unit: str
    services: tuple[ServiceCosts, ...]  # largest yesterday first
    total_yesterday: Decimal
    total_day_before: Decimal
    total_week_before: Decimal
    month_to_date: Decimal
    estimated: bool
    forecast: tuple[Decimal, str] | str  # the month's expected total, amount+unit, or why there is none
    budget: tuple[str, Decimal, str] | None
    savings: tuple[Saving, ...] = ()
    hints: tuple[Oversized, ...] = ()
    database_savings: tuple[DbSaving, ...] = ()
    previous_month: tuple[tuple[str, Decimal], ...] = ()  # on the 1st: last month per service
    previous_month_label: str = ""


def digest_window(today: date) -> tuple[date, date]:
    """[start, end) of the one query: 15 full UTC days before today, stretched back to the 1st of yesterday's month
    (for month to date, and on the 1st for the whole previous month)."""
    yesterday = today - timedelta(days=1)
    return min(today - timedelta(days=15), yesterday.replace(day=1)), today


def forecast_window(today: date) -> tuple[date, date]:
    """[today, the 1st of next month): what Cost Explorer forecasts; the month's earlier days are actuals."""
    return today, (today.replace(day=1) + timedelta(days=32)).replace(day=1)


def month_end_forecast(
    rows: Iterable[CostRow], today: date, rest_of_month: tuple[Decimal, str] | str
) -> tuple[Decimal, str] | str:
    """What the month will cost: its actual days before today plus Cost Explorer's forecast from today on.

    GetCostForecast covers only the period asked for, which must start today or later (Cost Explorer API Reference,
    GetCostForecast, TimePeriod). On the 1st no day of the month is over yet, so last month's actuals never count.
    """
    if isinstance(rest_of_month, str):
        return rest_of_month
    amount, unit = rest_of_month
    month_start = today.replace(day=1)
    so_far = [row for row in rows if month_start <= row.day < today]
    other_units = sorted({row.unit for row in so_far} - {unit})
    if other_units:
        return f"the forecast is in {unit}, the costs so far in {', '.join(other_units)}"
    return amount + sum((row.amount for row in so_far), ZERO), unit


def build_digest(
    rows: Iterable[CostRow],
    today: date,
    *,
    forecast: tuple[Decimal, str] | str,  # Cost Explorer's, from today to the 1st of next month
    budget: tuple[str, Decimal, str] | None,
    savings: Iterable[Saving] = (),
    hints: Iterable[Oversized] = (),
    database_savings: Iterable[DbSaving] = (),
) -> Digest:
    rows = list(rows)
    yesterday = today - timedelta(days=1)
    daily = _daily_by_name(rows)
    services = [_service_costs(name, by_day, yesterday) for name, by_day in daily.items()]
    services.sort(key=lambda s: (-s.yesterday, s.name))
    units = sorted({row.unit for row in rows})
    previous, label = _previous_month(daily, yesterday) if today.day == 1 else ((), "")
    return Digest(
        yesterday=yesterday,
        unit=units[0] if units else "USD",
        services=tuple(services),
        total_yesterday=sum((s.yesterday for s in services), ZERO),
        total_day_before=sum((s.day_before for s in services), ZERO),
        total_week_before=sum((s.week_before for s in services), ZERO),
        month_to_date=sum((s.month_to_date for s in services), ZERO),
        estimated=any(row.estimated and row.day >= yesterday - timedelta(days=7) for row in rows),
        forecast=month_end_forecast(rows, today, forecast),
        budget=budget,
        savings=tuple(savings),
        hints=tuple(hints),
        database_savings=tuple(database_savings),
        previous_month=previous,
        previous_month_label=label,
    )


def _daily_by_name(rows: list[CostRow]) -> dict[str, defaultdict[date, Decimal]]:
    """Each cost tag value's amount per day; a day it has no row reads as zero."""
    daily: dict[str, defaultdict[date, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for row in rows:
        daily[row.tag_value or UNTAGGED][row.day] += row.amount
    return daily


def _service_costs(name: str, by_day: defaultdict[date, Decimal], yesterday: date) -> ServiceCosts:
    month_start = yesterday.replace(day=1)
    return ServiceCosts(
        name=name,
        yesterday=by_day[yesterday],
        day_before=by_day[yesterday - timedelta(days=1)],
        week_before=by_day[yesterday - timedelta(days=7)],
        last_seven=tuple(by_day[yesterday - timedelta(days=offset)] for offset in range(6, -1, -1)),
        month_to_date=sum((amount for day, amount in by_day.items() if month_start <= day <= yesterday), ZERO),
    )


def _previous_month(
    daily: dict[str, defaultdict[date, Decimal]], yesterday: date
) -> tuple[tuple[tuple[str, Decimal], ...], str]:
    """On the 1st: the month that just ended, per service, largest first, and its name."""
    month_start = yesterday.replace(day=1)
    totals = {
        name: sum((amount for day, amount in by_day.items() if month_start <= day <= yesterday), ZERO)
        for name, by_day in daily.items()
    }
    return tuple(sorted(totals.items(), key=lambda item: (-item[1], item[0]))), month_start.strftime("%B %Y")


# ------------------------------------------------------------------------------------------ savings and hints


def task_hours_within(tasks: int, start: datetime, end: datetime, day: date) -> Decimal:
    """Task-hours of [start, end) that fall on the UTC `day`."""
    day_start = datetime.combine(day, time(0), tzinfo=UTC)
    overlap = (min(end, day_start + timedelta(days=1)) - max(start, day_start)).total_seconds()
    return max(ZERO, Decimal(str(overlap)) / 3600 * tasks)


def price_task_hours(
    hours: Decimal, cpu_units: int, memory_mb: int, region: str, architecture: str = "X86_64"
) -> Decimal:
    rates = FARGATE_RATES.get(region, FARGATE_RATES["us-east-1"])[architecture]
    per_hour = rates[0] * Decimal(cpu_units) / 1024 + rates[1] * Decimal(memory_mb) / 1024
    return hours * per_hour


def task_hours_saved(kept_off: Iterable[KeptOff], services: Sequence[ServiceView], day: date) -> list[TaskHoursSaved]:
    """Task-hours the holds kept off on `day`, then the tasks each strategy puts on Fargate Spot for the whole day.
    Only services that still exist with a task definition can be priced."""
    by_key = {view.key: view for view in services}
    saved = []
    for hold in kept_off:
        hours = task_hours_within(hold.tasks, hold.start, hold.end, day)
        view = by_key.get(hold.service)
        if hours and view is not None and view.task_definition:
            saved.append(TaskHoursSaved(view, hours, KEPT_OFF))
    on_spot = [view for view in services if view.fargate_spot_tasks and view.task_definition]
    return saved + [TaskHoursSaved(view, Decimal(24 * view.fargate_spot_tasks), ON_SPOT) for view in on_spot]


def priced_savings(saved: Iterable[TaskHoursSaved], sizes: dict[str, TaskSize], region: str) -> list[Saving]:
    """Each saving at Fargate on-demand rates for its task size; Spot's at FARGATE_SPOT_DISCOUNT of that. Hours kept
    off EC2 capacity are not priced: the instances run (and bill) unless their Auto Scaling group scales in."""
    savings = []
    for item in saved:
        cpu, memory, architecture, requires = sizes[item.service.task_definition]
        if not runs_on_fargate(item.service, requires):
            savings.append(Saving(item.service.key, item.hours, ZERO, kind=ON_EC2))
            continue
        amount = price_task_hours(item.hours, cpu, memory, region, architecture)
        if item.kind == ON_SPOT:
            amount *= FARGATE_SPOT_DISCOUNT
        savings.append(Saving(item.service.key, item.hours, amount, kind=item.kind))
    return savings


def runs_on_fargate(service: ServiceView, requires: tuple[str, ...]) -> bool:
    """Where a service's tasks run. A task definition that requires only Fargate or only EC2 says so; otherwise the
    service's launch type, or its capacity providers (any provider but FARGATE and FARGATE_SPOT is EC2-backed).
    ECS describes every service with one of the two (Amazon ECS API Reference, Service: launchType is omitted when
    it uses a capacity provider strategy, and the strategy when it uses a launch type); with neither, Fargate."""
    if set(requires) in ({"FARGATE"}, {"EC2"}):
        return requires[0] == "FARGATE"
    if service.capacity_providers:
        return set(service.capacity_providers) <= FARGATE_PROVIDERS
    return service.launch_type in ("", "FARGATE")


def database_savings(kept_off: Iterable[DbKeptOff], day: date, region: str) -> list[DbSaving]:
    """The hours each database was held stopped on the UTC `day`, once per instance class (an Aurora cluster's per
    member), priced at the list price on file for the stack's region, if any."""
    saved = []
    for hold in kept_off:
        hours = task_hours_within(1, hold.start, hold.end, day)
        if not hours:
            continue
        family = engine_family(hold.engine, hold.database)
        for name in hold.classes or ("",):
            price = hourly_price(region, family, name) if family and name else None
            saved.append(DbSaving(hold.database, name, hours, price, region))
    return saved


def running(services: Iterable[ServiceView]) -> list[ServiceView]:
    return [view for view in services if view.exists and view.desired_count > 0]


def oversized(
    services: Sequence[ServiceView], utilisation: Sequence[tuple[float | None, float | None]]
) -> list[Oversized]:
    """Services whose average CPU and memory utilisation (in the same order) both stayed under IDLE_PERCENT."""
    return [
        Oversized(view.key, cpu, memory)
        for view, (cpu, memory) in zip(services, utilisation, strict=True)
        if cpu is not None and memory is not None and cpu < IDLE_PERCENT and memory < IDLE_PERCENT
    ]
