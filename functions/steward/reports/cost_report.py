"""The cost digest in Slack, and what the handler returns: the digest for the environment's channel (top services,
an exact 'other' row, every service in a thread reply), a short copy per team channel, and the notice when Cost
Explorer could not answer. Pure: values in, messages out; every message fits Slack's limits however many services."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from steward.apply import Applied, Status
from steward.domain import slack as blocks
from steward.domain.costs import (
    FARGATE_RATES_DATE,
    FARGATE_SPOT_DISCOUNT,
    KEPT_OFF,
    ON_EC2,
    ON_SPOT,
    UNTAGGED,
    ZERO,
    DbSaving,
    Digest,
    Oversized,
    Saving,
    ServiceCosts,
)
from steward.domain.services import ServiceView
from steward.domain.services import channel_of as team_channel
from steward.domain.slack import money

SPARK = "▁▂▃▄▅▆▇█"
EXPLORE_SPAN = timedelta(days=13)  # a service's Cost Explorer link shows two weeks, enough to see week over week
TOP_SECTIONS = 10  # the top list; links make a line long (a Cost Explorer URL is ~600 characters)
REPLY_SECTIONS = 45  # a thread reply has only its own blocks and the frame
TEAM_SECTIONS = 45
MAX_HINTS = 10
MAX_MOVERS = 3


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


def service_line(service: ServiceCosts, unit: str, explore: tuple[str, date] | None = None) -> str:
    """One service's costs; with `explore` (the cost tag key and yesterday), its name links to Cost Explorer showing
    that service's last two weeks."""
    name = f"`{blocks.escape(service.name)}`"
    if explore is not None and service.name != UNTAGGED:
        key, yesterday = explore
        url = blocks.cost_explorer_url(key, service.name, yesterday - EXPLORE_SPAN, yesterday)
        name = blocks.link(url, service.name)
    return (
        f"{name} {money(service.yesterday, unit)} · d/d {change(service.yesterday, service.day_before)}"
        f" · w/w {change(service.yesterday, service.week_before)} · {sparkline(service.last_seven)}"
        f" · MTD {money(service.month_to_date, unit)}"
    )


def render_digest(
    digest: Digest, environment: str, top: int, *, dry_run: bool = False, cost_tag_key: str = "service"
) -> blocks.SlackMessage:
    """Top `top` services (each linked to Cost Explorer filtered to it), then one 'other (k services)' row whose sum
    is exact; every service in a thread reply."""
    unit = digest.unit
    title = f"{'[dry run] ' if dry_run else ''}Cost digest — {environment} — {blocks.day(digest.yesterday)} (UTC)"
    body: list[blocks.Block] = [
        blocks.header(title),
        *_summary(digest),
        blocks.divider(),
        *blocks.lines_in_sections(
            "*By service* (yesterday · day over day · week over week · 7 days · month to date)",
            _top_lines(digest, top, (cost_tag_key, digest.yesterday)),
            most=TOP_SECTIONS,
        ),
        *_notes(digest),
    ]
    text = (
        f"{title}: {money(digest.total_yesterday, unit)} yesterday, {money(digest.month_to_date, unit)} month to date"
    )
    return blocks.SlackMessage(text=text, blocks=tuple(body), replies=tuple(_replies(digest, top)))


def _summary(digest: Digest) -> list[blocks.Block]:
    unit, day = digest.unit, digest.yesterday
    estimated = " _(estimated)_" if digest.estimated else ""
    return [
        blocks.section(
            f"*Yesterday* {money(digest.total_yesterday, unit)}{estimated}\n"
            f"*vs day before* {change(digest.total_yesterday, digest.total_day_before)}\n"
            f"*vs last {day:%A}* {change(digest.total_yesterday, digest.total_week_before)}",
            fields=[f"*Month to date* {money(digest.month_to_date, unit)}", f"*Forecast* {_forecast_text(digest)}"],
        )
    ]


def _top_lines(digest: Digest, top: int, explore: tuple[str, date]) -> list[str]:
    shown, rest = digest.services[:top], digest.services[top:]
    lines = [service_line(service, digest.unit, explore) for service in shown]
    if rest:
        other = sum((service.yesterday for service in rest), ZERO)
        lines.append(f"`other ({len(rest)} services)` {money(other, digest.unit)} · full list in the thread")
    return lines


def _notes(digest: Digest) -> list[blocks.Block]:
    """Top movers, savings, right-sizing hints and the estimate warning: each only when there is something to say."""
    notes = []
    movers = sorted((s for s in digest.services if s.day_change), key=lambda s: -abs(s.day_change))[:MAX_MOVERS]
    if movers:
        moved = ", ".join(
            f"`{blocks.escape(s.name)}` {'+' if s.day_change > 0 else '-'}{money(abs(s.day_change), digest.unit)}"
            for s in movers
        )
        notes.append(blocks.section(f"*Top movers* {moved}"))
    if digest.savings:
        notes.append(blocks.section(savings_text(digest.savings, digest.unit)))
    if digest.database_savings:
        notes.append(blocks.section(database_savings_text(digest.database_savings)))
    if digest.hints:
        hints = "\n".join(f"• {blocks.escape(hint_text(hint))}" for hint in digest.hints[:MAX_HINTS])
        notes.append(blocks.section("*Right-sizing hints*\n" + hints))
    if digest.estimated:
        notes.append(blocks.context("Cost Explorer marks the most recent days as estimated; they can still change."))
    return notes


def _replies(digest: Digest, top: int) -> list[blocks.SlackMessage]:
    """In the thread: every service when some were folded into 'other'; on the 1st, the month that just ended."""
    unit, replies = digest.unit, []
    if digest.services[top:]:
        count, lines = len(digest.services), [service_line(s, unit) for s in digest.services]
        replies.append(
            blocks.SlackMessage(
                text=f"All {count} services, {blocks.day(digest.yesterday)}",
                blocks=tuple(blocks.lines_in_sections(f"*All {count} services*", lines, most=REPLY_SECTIONS)),
            )
        )
    if digest.previous_month:
        label, total = digest.previous_month_label, sum((amount for _, amount in digest.previous_month), ZERO)
        lines = [f"`{blocks.escape(name)}` {money(amount, unit)}" for name, amount in digest.previous_month]
        replies.append(
            blocks.SlackMessage(
                text=f"{label}: {money(total, unit)}",
                blocks=tuple(
                    blocks.lines_in_sections(f"*{label}* — {money(total, unit)} in all", lines, most=REPLY_SECTIONS)
                ),
            )
        )
    return replies


def savings_text(savings: tuple[Saving, ...], unit: str) -> str:
    parts = []
    for kind, words in (
        (KEPT_OFF, "kept off by off-hours and budget actions"),
        (ON_SPOT, "on Fargate Spot, not on-demand"),
    ):
        group = [s for s in savings if s.kind == kind]
        if group:
            amount, hours = sum((s.amount for s in group), ZERO), sum((s.task_hours for s in group), ZERO)
            parts.append(f"{money(amount, unit)} for {hours:.0f} task-hours {words}")
    lines = []
    if parts:
        total = money(sum((s.amount for s in savings), ZERO), unit)
        basis = f"estimate at Fargate on-demand rates of {FARGATE_RATES_DATE}, Spot at {FARGATE_SPOT_DISCOUNT:.0%} off"
        lines.append(f"*Saved yesterday* about {total}: " + "; ".join(parts) + f" _({basis})_")
    on_ec2 = [s for s in savings if s.kind == ON_EC2]
    if on_ec2:
        hours = sum((s.task_hours for s in on_ec2), ZERO)
        lines.append(
            f"*Kept off EC2 capacity* {hours:.0f} task-hours ({len({s.service for s in on_ec2})} service(s)), not "
            "priced: their EC2 "
            "instances run and bill until their Auto Scaling group scales in"
        )
    return "\n".join(lines)


def database_savings_text(savings: tuple[DbSaving, ...]) -> str:
    """The database hours held stopped yesterday, per instance class, each priced only at a list price on file."""
    hours = sum((s.hours for s in savings), ZERO)
    priced = [s.amount for s in savings if s.amount is not None]
    total = f" ≈ {money(sum(priced, ZERO), 'USD')}" if priced else ""
    partly = " for the hours with a price on file" if priced and len(priced) < len(savings) else ""
    head = (
        f"*Databases stopped yesterday* {_hours(hours)} instance-hours{total}{partly}"
        " _(estimate at on-demand instance-hour prices; storage and backups are still billed while stopped)_"
    )
    return "\n".join([head, *(_class_line(group) for group in _by_class(savings))])


def _by_class(savings: tuple[DbSaving, ...]) -> list[list[DbSaving]]:
    groups: dict[tuple[str, str], list[DbSaving]] = defaultdict(list)
    for saving in savings:
        family = saving.price.family if saving.price else ""
        groups[(saving.instance_class, family)].append(saving)
    return [groups[key] for key in sorted(groups)]


def _class_line(group: list[DbSaving]) -> str:
    first, hours = group[0], sum((s.hours for s in group), ZERO)
    name = f"`{blocks.escape(first.instance_class)}`" if first.instance_class else "an instance class not recorded"
    what = f"• {_hours(hours)} h of {name} ({len({s.database for s in group})} database(s))"
    price = first.price
    if price is None:
        return f"{what}: no price on file for {first.region or 'this region'}"
    amount = money(hours * price.amount, price.unit)
    return (
        f"{what} at {price.amount} {price.unit}/h ≈ {amount} "
        f"_({price.family}, {price.region} Single-AZ list price; {blocks.escape(price.source)})_"
    )


def _hours(hours: Decimal) -> str:
    return f"{hours:,.1f}".removesuffix(".0")


def hint_text(hint: Oversized) -> str:
    return (
        f"{hint.service}: 7-day average CPU {hint.cpu:.0f}%, memory {hint.memory:.0f}% — a smaller task size would do"
    )


def _forecast_text(digest: Digest) -> str:
    if isinstance(digest.forecast, str):
        return f"unavailable ({blocks.escape(digest.forecast)})"
    amount, unit = digest.forecast
    text = money(amount, unit)
    if digest.budget is not None:
        _, limit, budget_unit = digest.budget
        text += f" of {money(limit, budget_unit)} budget ({amount / limit * 100:.0f}%)" if limit else ""
    return text


def team_messages(digest: Digest, services: Sequence[ServiceView], cost_tag_key: str) -> list[blocks.SlackMessage]:
    """A short copy for each steward:channel, with that team's services only."""
    channel_of: dict[str, str] = {}
    for view in services:
        channel = team_channel(view.tags)
        if channel:
            channel_of[view.tags.get(cost_tag_key, view.name)] = channel
    grouped: dict[str, list[str]] = defaultdict(list)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for service in digest.services:
        channel = channel_of.get(service.name)
        if channel:
            grouped[channel].append(service_line(service, digest.unit, (cost_tag_key, digest.yesterday)))
            totals[channel] += service.yesterday
    day = blocks.day(digest.yesterday)
    return [
        blocks.SlackMessage(
            text=f"Your services cost {money(totals[channel], digest.unit)} on {day} (UTC)",
            blocks=tuple(blocks.lines_in_sections(f"*Your services, {day} (UTC)*", lines, most=TEAM_SECTIONS)),
            channel=channel,
        )
        for channel, lines in grouped.items()
    ]


def unavailable_message(reason: str) -> blocks.SlackMessage:
    return blocks.SlackMessage(
        text=f"cost digest unavailable: {reason}",
        blocks=(blocks.section(f"*Cost digest unavailable:* {blocks.escape(reason)}"),),
    )


def digest_result(applied: Applied[Digest], message: blocks.SlackMessage, requests: int) -> dict[str, Any]:
    """What the handler returns. A digest Slack refused still reads "posted", as it always has: its day's claim was
    released, so the schedule's retry posts it."""
    digest = applied.decision
    if applied.status is Status.DUPLICATE:
        return {
            "outcome": "duplicate",
            "yesterday": digest.yesterday.isoformat(),
            "reason": "this day's digest was already posted",
        }
    return {
        "outcome": "dry-run" if applied.status is Status.DRY_RUN else "posted",
        "yesterday": digest.yesterday.isoformat(),
        "total": f"{digest.total_yesterday}",
        "unit": digest.unit,
        "services": len(digest.services),
        "cost_explorer_requests": requests,
        "message": {
            "text": message.text,
            "blocks": list(message.blocks),
            "replies": [list(r.blocks) for r in message.replies],
        },
    }
