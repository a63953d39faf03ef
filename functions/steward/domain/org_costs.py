"""The organisation's cost digest as values: per-account and per-service (cost tag value) totals for yesterday and
month to date, from one Cost Explorer query grouped by linked account and cost tag, and each team's slice across
accounts. Pure: no AWS, no clock, no Slack (the messages are built in steward.reports.org_digest)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal

from msgspec import Struct

from steward.domain.costs import UNTAGGED, ZERO, CostRow, month_end_forecast


class AccountCost(Struct, frozen=True):
    """One day's cost of one cost tag value in one member account."""

    day: date
    account_id: str
    tag_value: str  # "" is the untagged share
    amount: Decimal
    unit: str
    estimated: bool = False


class Totals(Struct, frozen=True):
    """Yesterday's and month-to-date cost of one account, one service, or one service in one account."""

    name: str  # an account id, or a cost tag value (UNTAGGED for spend without it)
    yesterday: Decimal
    month_to_date: Decimal


class TeamSlice(Struct, frozen=True):
    """One team's service (cost tag value) across the organisation's accounts, for its channel."""

    service: str
    channel: str
    accounts: tuple[Totals, ...]  # largest yesterday first
    total: Totals


class OrgDigest(Struct, frozen=True):
    yesterday: date
    unit: str
    accounts: tuple[Totals, ...]  # largest yesterday first
    services: tuple[Totals, ...]  # largest yesterday first
    total: Totals
    estimated: bool
    forecast: tuple[Decimal, str] | str  # the month's expected total, amount+unit, or why there is none
    teams: tuple[TeamSlice, ...] = ()


def org_window(today: date) -> tuple[date, date]:
    """[start, end) of the one query: from the 1st of yesterday's month to today (yesterday, and month to date)."""
    return (today - timedelta(days=1)).replace(day=1), today


def build_org_digest(
    rows: Iterable[AccountCost],
    today: date,
    *,
    forecast: tuple[Decimal, str] | str,  # Cost Explorer's, from today to the 1st of next month
    team_channels: Mapping[str, str],  # cost tag value -> Slack channel ID
) -> OrgDigest:
    rows = list(rows)
    yesterday = today - timedelta(days=1)
    month_start = yesterday.replace(day=1)
    in_month = [row for row in rows if month_start <= row.day <= yesterday]
    units = sorted({row.unit for row in in_month})
    as_cost_rows = [CostRow(row.day, row.tag_value, row.amount, row.unit, row.estimated) for row in rows]
    return OrgDigest(
        yesterday=yesterday,
        unit=units[0] if units else "USD",
        accounts=_totals(in_month, yesterday, lambda row: row.account_id),
        services=_totals(in_month, yesterday, lambda row: service_name(row.tag_value)),
        total=_total("total", in_month, yesterday),
        estimated=any(row.estimated for row in in_month if row.day == yesterday),
        forecast=month_end_forecast(as_cost_rows, today, forecast),
        teams=team_slices(in_month, yesterday, team_channels),
    )


def service_name(tag_value: str) -> str:
    return tag_value or UNTAGGED


def team_slices(rows: list[AccountCost], yesterday: date, team_channels: Mapping[str, str]) -> tuple[TeamSlice, ...]:
    """Each mapped service with spend this month, its accounts' lines; a mapped service with none posts nothing."""
    slices = []
    for service, channel in sorted(team_channels.items()):
        own = [row for row in rows if service_name(row.tag_value) == service]
        if own:
            accounts = _totals(own, yesterday, lambda row: row.account_id)
            slices.append(TeamSlice(service, channel, accounts, _total(service, own, yesterday)))
    return tuple(slices)


def _total(name: str, rows: Iterable[AccountCost], yesterday: date) -> Totals:
    rows = list(rows)
    return Totals(
        name,
        sum((row.amount for row in rows if row.day == yesterday), ZERO),
        sum((row.amount for row in rows), ZERO),
    )


def _totals(rows: list[AccountCost], yesterday: date, key: Callable[[AccountCost], str]) -> tuple[Totals, ...]:
    by_name: dict[str, list[AccountCost]] = defaultdict(list)
    for row in rows:
        by_name[key(row)].append(row)
    totals = [_total(name, group, yesterday) for name, group in by_name.items()]
    return tuple(sorted(totals, key=lambda t: (-t.yesterday, -t.month_to_date, t.name)))
