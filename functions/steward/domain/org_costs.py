"""The organisation's cost digest as values: per-account and per-service (cost tag value) totals for yesterday and
month to date, from one Cost Explorer query grouped by linked account and cost tag, and each team's slice across
accounts. Pure: no AWS, no clock, no Slack (the messages are built in steward.reports.org_digest)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
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
    # One pass: (account, service) -> [yesterday, month to date]; 50 accounts x 100 services is 135,000 rows a month.
    cells: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    units: set[str] = set()
    daily: dict[tuple[date, str], Decimal] = defaultdict(Decimal)  # what the month-end forecast adds to
    estimated = False
    for row in rows:
        daily[(row.day, row.unit)] += row.amount
        if month_start <= row.day <= yesterday:
            cell = cells[(row.account_id, service_name(row.tag_value))]
            cell[1] += row.amount
            units.add(row.unit)
            if row.day == yesterday:
                cell[0] += row.amount
                estimated = estimated or row.estimated
    so_far = [CostRow(day, "", amount, unit) for (day, unit), amount in daily.items()]
    return OrgDigest(
        yesterday=yesterday,
        unit=sorted(units)[0] if units else "USD",
        accounts=_totals((account, figures) for (account, _), figures in cells.items()),
        services=_totals((service, figures) for (_, service), figures in cells.items()),
        total=_summed("total", cells.values()),
        estimated=estimated,
        forecast=month_end_forecast(so_far, today, forecast),
        teams=team_slices(cells, team_channels),
    )


def service_name(tag_value: str) -> str:
    return tag_value or UNTAGGED


def team_slices(
    cells: Mapping[tuple[str, str], list[Decimal]], team_channels: Mapping[str, str]
) -> tuple[TeamSlice, ...]:
    """Each mapped service with spend this month, its accounts' lines; a mapped service with none posts nothing."""
    slices = []
    for service, channel in sorted(team_channels.items()):
        own = [(account, figures) for (account, name), figures in cells.items() if name == service]
        if own:
            slices.append(TeamSlice(service, channel, _totals(own), _summed(service, (f for _, f in own))))
    return tuple(slices)


def _summed(name: str, figures: Iterable[list[Decimal]]) -> Totals:
    yesterday, month_to_date = ZERO, ZERO
    for day, month in figures:
        yesterday, month_to_date = yesterday + day, month_to_date + month
    return Totals(name, yesterday, month_to_date)


def _totals(figures: Iterable[tuple[str, list[Decimal]]]) -> tuple[Totals, ...]:
    by_name: dict[str, list[list[Decimal]]] = defaultdict(list)
    for name, cell in figures:
        by_name[name].append(cell)
    totals = [_summed(name, cells) for name, cells in by_name.items()]
    return tuple(sorted(totals, key=lambda t: (-t.yesterday, -t.month_to_date, t.name)))
