"""The organisation cost digest in Slack: accounts by name and id, services (cost tag values), each with yesterday
and month to date, the organisation's forecast; every account and service in a thread reply when the top lists fold
some into 'other'; each team's slice for its channel; the notice when Cost Explorer could not answer. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from steward.apply import Applied, Status
from steward.domain import slack as blocks
from steward.domain.costs import ZERO
from steward.domain.org_costs import OrgDigest, TeamSlice, Totals
from steward.domain.slack import money

TOP_SECTIONS = 10
REPLY_SECTIONS = 45


def account_label(account_id: str, names: Mapping[str, str]) -> str:
    """'Payments prod (111111111111)'; an id Organizations no longer lists (a closed or departed account) alone."""
    name = names.get(account_id)
    return f"{name} ({account_id})" if name else account_id


def totals_line(totals: Totals, label: str, unit: str) -> str:
    return f"`{blocks.escape(label)}` {money(totals.yesterday, unit)} · MTD {money(totals.month_to_date, unit)}"


def render_org_digest(
    digest: OrgDigest, names: Mapping[str, str], top: int, *, dry_run: bool = False
) -> blocks.SlackMessage:
    unit, day = digest.unit, blocks.day(digest.yesterday)
    title = f"{'[dry run] ' if dry_run else ''}Organisation cost digest — {day} (UTC)"
    accounts = [totals_line(a, account_label(a.name, names), unit) for a in digest.accounts]
    services = [totals_line(s, s.name, unit) for s in digest.services]
    body: list[blocks.Block] = [
        blocks.header(title),
        _summary(digest),
        blocks.divider(),
        *blocks.lines_in_sections(
            f"*By account* ({len(digest.accounts)}; yesterday · month to date)",
            _top(accounts, digest.accounts, top, unit, "accounts"),
            most=TOP_SECTIONS,
        ),
        *blocks.lines_in_sections(
            f"*By service* ({len(digest.services)}; yesterday · month to date)",
            _top(services, digest.services, top, unit, "services"),
            most=TOP_SECTIONS,
        ),
    ]
    if digest.estimated:
        body.append(blocks.context("Cost Explorer marks the most recent days as estimated; they can still change."))
    text = (
        f"{title}: {money(digest.total.yesterday, unit)} yesterday, "
        f"{money(digest.total.month_to_date, unit)} month to date"
    )
    replies = [
        blocks.SlackMessage(
            text=f"All {len(lines)} {kind}, {day}",
            blocks=tuple(blocks.lines_in_sections(f"*All {len(lines)} {kind}*", lines, most=REPLY_SECTIONS)),
        )
        for kind, lines in (("accounts", accounts), ("services", services))
        if len(lines) > top
    ]
    return blocks.SlackMessage(text=text, blocks=tuple(body), replies=tuple(replies))


def _summary(digest: OrgDigest) -> blocks.Block:
    unit = digest.unit
    estimated = " _(estimated)_" if digest.estimated else ""
    if isinstance(digest.forecast, str):
        forecast = f"unavailable ({blocks.escape(digest.forecast)})"
    else:
        forecast = money(*digest.forecast)
    return blocks.section(
        f"*Yesterday* {money(digest.total.yesterday, unit)}{estimated}",
        fields=[f"*Month to date* {money(digest.total.month_to_date, unit)}", f"*Forecast* {forecast}"],
    )


def _top(lines: list[str], totals: Sequence[Totals], top: int, unit: str, kind: str) -> list[str]:
    rest = totals[top:]
    if not rest:
        return lines
    other = sum((t.yesterday for t in rest), ZERO)
    return [*lines[:top], f"`other ({len(rest)} {kind})` {money(other, unit)} · full list in the thread"]


def team_messages(digest: OrgDigest, names: Mapping[str, str]) -> list[blocks.SlackMessage]:
    """Each team's service across the organisation's accounts, to the channel TeamChannels maps it to."""
    return [_team_message(team, digest, names) for team in digest.teams]


def _team_message(team: TeamSlice, digest: OrgDigest, names: Mapping[str, str]) -> blocks.SlackMessage:
    unit, day = digest.unit, blocks.day(digest.yesterday)
    lines = [totals_line(a, account_label(a.name, names), unit) for a in team.accounts]
    heading = (
        f"*`{blocks.escape(team.service)}` across the organisation, {day} (UTC)*: "
        f"{money(team.total.yesterday, unit)} yesterday · MTD {money(team.total.month_to_date, unit)}"
    )
    return blocks.SlackMessage(
        text=f"{team.service} cost {money(team.total.yesterday, unit)} across the organisation on {day} (UTC)",
        blocks=tuple(blocks.lines_in_sections(heading, lines, most=REPLY_SECTIONS)),
        channel=team.channel,
    )


def unavailable_message(reason: str) -> blocks.SlackMessage:
    return blocks.SlackMessage(
        text=f"org cost digest unavailable: {reason}",
        blocks=(blocks.section(f"*Organisation cost digest unavailable:* {blocks.escape(reason)}"),),
    )


def org_digest_result(
    applied: Applied[OrgDigest], message: blocks.SlackMessage, teams: int, requests: int
) -> dict[str, Any]:
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
        "total": f"{digest.total.yesterday}",
        "month_to_date": f"{digest.total.month_to_date}",
        "unit": digest.unit,
        "accounts": len(digest.accounts),
        "services": len(digest.services),
        "team_messages": teams,
        "cost_explorer_requests": requests,
        "message": {"text": message.text, "blocks": list(message.blocks)},
    }
