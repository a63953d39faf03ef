"""The daily cost digest as values: per-service figures from one Cost Explorer query, then a Slack message that
fits Slack's limits however many services there are."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from steward.domain import slack as blocks
from steward.domain.budgets import money

SPARK = "▁▂▃▄▅▆▇█"
UNTAGGED = "(untagged)"
ZERO = Decimal(0)

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


@dataclass(frozen=True)
class CostRow:
    day: date
    tag_value: str
    amount: Decimal
    unit: str
    estimated: bool = False


@dataclass(frozen=True)
class ServiceCosts:
    name: str  # the cost tag value; UNTAGGED for spend without it
    yesterday: Decimal
    day_before: Decimal
    week_before: Decimal  # the same weekday a week earlier
    last_seven: tuple[Decimal, ...]
    month_to_date: Decimal

    @property
    def day_change(self) -> Decimal:
        return self.yesterday - self.day_before


# Fargate Spot runs at up to 70 % off the on-demand price; the digest prices Spot's saving at that discount.
FARGATE_SPOT_DISCOUNT = Decimal("0.70")


@dataclass(frozen=True)
class Saving:
    service: str
    task_hours: Decimal
    amount: Decimal
    kind: str = "kept off"  # or "on Spot"


@dataclass(frozen=True)
class Digest:
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
    hints: tuple[str, ...] = ()
    previous_month: tuple[tuple[str, Decimal], ...] = ()  # on the 1st: last month per service
    previous_month_label: str = ""


def digest_window(today: date) -> tuple[date, date]:
    """[start, end) of the one query: 15 full UTC days before today, stretched back to the 1st of yesterday's month
    (for month to date, and on the 1st for the whole previous month)."""
    yesterday = today - timedelta(days=1)
    return min(today - timedelta(days=15), yesterday.replace(day=1)), today


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
    hints: Iterable[str] = (),
) -> Digest:
    rows = list(rows)
    yesterday = today - timedelta(days=1)
    days = [yesterday - timedelta(days=offset) for offset in range(6, -1, -1)]
    daily: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    units: set[str] = set()
    estimated = False
    for row in rows:
        name = row.tag_value or UNTAGGED
        daily[name][row.day] += row.amount
        units.add(row.unit)
        estimated = estimated or (row.estimated and row.day >= yesterday - timedelta(days=7))
    month_start = yesterday.replace(day=1)
    services = []
    for name, by_day in daily.items():
        services.append(
            ServiceCosts(
                name=name,
                yesterday=by_day[yesterday],
                day_before=by_day[yesterday - timedelta(days=1)],
                week_before=by_day[yesterday - timedelta(days=7)],
                last_seven=tuple(by_day[day] for day in days),
                month_to_date=sum((amount for day, amount in by_day.items() if month_start <= day <= yesterday), ZERO),
            )
        )
    services.sort(key=lambda s: (-s.yesterday, s.name))
    previous: tuple[tuple[str, Decimal], ...] = ()
    label = ""
    if today.day == 1:
        last_month_start = yesterday.replace(day=1)
        totals = {
            name: sum((a for d, a in by_day.items() if last_month_start <= d <= yesterday), ZERO)
            for name, by_day in daily.items()
        }
        previous = tuple(sorted(totals.items(), key=lambda item: (-item[1], item[0])))
        label = last_month_start.strftime("%B %Y")
    return Digest(
        yesterday=yesterday,
        unit=sorted(units)[0] if units else "USD",
        services=tuple(services),
        total_yesterday=sum((s.yesterday for s in services), ZERO),
        total_day_before=sum((s.day_before for s in services), ZERO),
        total_week_before=sum((s.week_before for s in services), ZERO),
        month_to_date=sum((s.month_to_date for s in services), ZERO),
        estimated=estimated,
        forecast=month_end_forecast(rows, today, forecast),
        budget=budget,
        savings=tuple(savings),
        hints=tuple(hints),
        previous_month=previous,
        previous_month_label=label,
    )


def sparkline(values: Iterable[Decimal]) -> str:
    points = list(values)
    top = max(points, default=ZERO)
    if top <= 0:
        return SPARK[0] * len(points)
    return "".join(SPARK[min(len(SPARK) - 1, int(value / top * (len(SPARK) - 1)))] for value in points)


def change(now: Decimal, before: Decimal) -> str:
    if before == 0:
        return "new" if now > 0 else "-"
    percent = (now - before) / before * 100
    arrow = "▲" if percent > 0 else ("▼" if percent < 0 else "•")
    return f"{arrow}{abs(percent):.0f}%"


def service_line(service: ServiceCosts, unit: str) -> str:
    name = blocks.escape(service.name)
    return (
        f"`{name}` {money(service.yesterday, unit)} · d/d {change(service.yesterday, service.day_before)}"
        f" · w/w {change(service.yesterday, service.week_before)} · {sparkline(service.last_seven)}"
        f" · MTD {money(service.month_to_date, unit)}"
    )


def render_digest(digest: Digest, environment: str, top: int, *, dry_run: bool = False) -> blocks.SlackMessage:
    """Top `top` services, then one 'other (k services)' row whose sum is exact; every service in a thread reply."""
    unit = digest.unit
    day = digest.yesterday.strftime("%a %d %b %Y")
    title = f"{'[dry run] ' if dry_run else ''}Cost digest — {environment} — {day} (UTC)"
    estimated = " _(estimated)_" if digest.estimated else ""
    summary = [
        f"*Yesterday* {money(digest.total_yesterday, unit)}{estimated}",
        f"*vs day before* {change(digest.total_yesterday, digest.total_day_before)}",
        f"*vs last {digest.yesterday.strftime('%A')}* {change(digest.total_yesterday, digest.total_week_before)}",
        f"*Month to date* {money(digest.month_to_date, unit)}",
        f"*Forecast* {_forecast_text(digest)}",
    ]
    shown, rest = digest.services[:top], digest.services[top:]
    lines = [service_line(s, unit) for s in shown]
    if rest:
        other = sum((s.yesterday for s in rest), ZERO)
        lines.append(f"`other ({len(rest)} services)` {money(other, unit)} · full list in the thread")
    body: list[blocks.Block] = [
        blocks.header(title),
        blocks.section("\n".join(summary[:3]), fields=summary[3:]),
        blocks.divider(),
        *_chunked_sections("*By service* (yesterday · day over day · week over week · 7 days · month to date)", lines),
    ]
    movers = sorted((s for s in digest.services if s.day_change), key=lambda s: -abs(s.day_change))[:3]
    if movers:
        moved = ", ".join(
            f"`{blocks.escape(s.name)}` {'+' if s.day_change > 0 else '-'}{money(abs(s.day_change), unit)}"
            for s in movers
        )
        body.append(blocks.section(f"*Top movers* {moved}"))
    if digest.savings:
        body.append(blocks.section(savings_text(digest.savings, unit)))
    if digest.hints:
        body.append(
            blocks.section("*Right-sizing hints*\n" + "\n".join(f"• {blocks.escape(h)}" for h in digest.hints[:10]))
        )
    if digest.estimated:
        body.append(blocks.context("Cost Explorer marks the most recent days as estimated; they can still change."))
    replies = []
    if rest:
        replies.append(
            blocks.SlackMessage(
                text=f"All {len(digest.services)} services, {day}",
                blocks=tuple(
                    _chunked_sections(
                        f"*All {len(digest.services)} services*", [service_line(s, unit) for s in digest.services]
                    )
                ),
            )
        )
    if digest.previous_month:
        month_lines = [f"`{blocks.escape(name)}` {money(amount, unit)}" for name, amount in digest.previous_month]
        total = sum((amount for _, amount in digest.previous_month), ZERO)
        replies.append(
            blocks.SlackMessage(
                text=f"{digest.previous_month_label}: {money(total, unit)}",
                blocks=tuple(
                    _chunked_sections(f"*{digest.previous_month_label}* — {money(total, unit)} in all", month_lines)
                ),
            )
        )
    text = (
        f"{title}: {money(digest.total_yesterday, unit)} yesterday, {money(digest.month_to_date, unit)} month to date"
    )
    return blocks.SlackMessage(text=text, blocks=tuple(body), replies=tuple(replies))


def savings_text(savings: tuple[Saving, ...], unit: str) -> str:
    parts = []
    for kind, words in (
        ("kept off", "kept off by off-hours and budget actions"),
        ("on Spot", "on Fargate Spot, not on-demand"),
    ):
        group = [s for s in savings if s.kind == kind]
        if group:
            amount, hours = sum((s.amount for s in group), ZERO), sum((s.task_hours for s in group), ZERO)
            parts.append(f"{money(amount, unit)} for {hours:.0f} task-hours {words}")
    total = money(sum((s.amount for s in savings), ZERO), unit)
    basis = f"estimate at Fargate on-demand rates of {FARGATE_RATES_DATE}, Spot at {FARGATE_SPOT_DISCOUNT:.0%} off"
    return f"*Saved yesterday* about {total}: " + "; ".join(parts) + f" _({basis})_"


def _forecast_text(digest: Digest) -> str:
    if isinstance(digest.forecast, str):
        return f"unavailable ({blocks.escape(digest.forecast)})"
    amount, unit = digest.forecast
    text = money(amount, unit)
    if digest.budget is not None:
        _, limit, budget_unit = digest.budget
        text += f" of {money(limit, budget_unit)} budget ({amount / limit * 100:.0f}%)" if limit else ""
    return text


def _chunked_sections(heading: str, lines: list[str]) -> list[blocks.Block]:
    """Lines packed into sections of at most 3000 characters, the heading on the first."""
    sections: list[blocks.Block] = []
    current = heading
    for line in lines:
        if len(current) + 1 + len(line) > blocks.MAX_SECTION_TEXT:
            sections.append(blocks.section(current))
            current = line
        else:
            current = f"{current}\n{line}"
    sections.append(blocks.section(current))
    return sections


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
