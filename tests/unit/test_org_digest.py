"""The organisation digest as values: the window, per-account and per-service totals, the team slices, and messages
that fit Slack however many accounts and services."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

from steward.domain.org_costs import AccountCost, build_org_digest, org_window
from steward.domain.slack import MAX_BLOCKS, MAX_SECTION_TEXT
from steward.reports.org_digest import render_org_digest, team_messages, unavailable_message

TODAY = date(2026, 11, 28)
PAYMENTS, SEARCH = "111111111111", "222222222222"
NAMES = {PAYMENTS: "payments-prod", SEARCH: "search-prod"}


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def month(amounts: dict[tuple[str, str], str], end: date = date(2026, 11, 27)) -> list[AccountCost]:
    return [
        AccountCost(day, account, tag, Decimal(amount), "USD")
        for day in days(end.replace(day=1), end)
        for (account, tag), amount in amounts.items()
    ]


def test_the_query_covers_yesterday_and_its_month_to_date_and_on_the_first_the_whole_previous_month() -> None:
    assert org_window(TODAY) == (date(2026, 11, 1), TODAY)
    assert org_window(date(2026, 12, 1)) == (date(2026, 11, 1), date(2026, 12, 1))


def test_accounts_and_services_are_totalled_for_yesterday_and_month_to_date_largest_first() -> None:
    # Given two accounts sharing the "api" service and one untagged share, every day of November so far
    rows = month({(PAYMENTS, "api"): "10", (SEARCH, "api"): "4", (SEARCH, ""): "1"})

    # When the digest is built on the 28th
    digest = build_org_digest(rows, TODAY, forecast=(Decimal(100), "USD"), team_channels={})

    # Then each account and each service has yesterday's figure and 27 days of month to date
    assert [(a.name, a.yesterday, a.month_to_date) for a in digest.accounts] == [
        (PAYMENTS, Decimal(10), Decimal(270)),
        (SEARCH, Decimal(5), Decimal(135)),
    ]
    assert [(s.name, s.yesterday) for s in digest.services] == [("api", Decimal(14)), ("(untagged)", Decimal(1))]
    assert (digest.total.yesterday, digest.total.month_to_date) == (Decimal(15), Decimal(405))
    # and the month-end forecast is this month's actual days plus Cost Explorer's rest of the month
    assert digest.forecast == (Decimal(505), "USD")


def test_a_mapped_service_gets_its_slice_across_accounts_and_an_unmapped_or_idle_one_gets_none() -> None:
    rows = month({(PAYMENTS, "api"): "10", (SEARCH, "api"): "4", (SEARCH, "search"): "7"})

    digest = build_org_digest(rows, TODAY, forecast="no data", team_channels={"api": "C0API", "billing": "C0BILLING"})

    [api] = digest.teams
    assert (api.service, api.channel) == ("api", "C0API")
    assert [(a.name, a.yesterday) for a in api.accounts] == [(PAYMENTS, Decimal(10)), (SEARCH, Decimal(4))]
    [message] = team_messages(digest, NAMES)
    assert message.channel == "C0API"
    text = json.dumps(message.blocks)
    assert "payments-prod (111111111111)" in text and "search-prod (222222222222)" in text
    assert "search" not in message.text


def test_the_message_names_accounts_by_name_and_id_and_an_unlisted_account_by_its_id() -> None:
    rows = month({(PAYMENTS, "api"): "10", ("333333333333", "api"): "2"})
    digest = build_org_digest(rows, TODAY, forecast=(Decimal(50), "USD"), team_channels={})

    message = render_org_digest(digest, NAMES, 10)

    text = json.dumps(message.blocks, ensure_ascii=False)
    assert "`payments-prod (111111111111)` 10.00 USD · MTD 270.00 USD" in text
    assert "`333333333333` 2.00 USD" in text
    assert message.text.startswith("Organisation cost digest — Fri 2026-11-27 (UTC): 12.00 USD yesterday")
    assert "*Forecast* 374.00 USD" in text  # 324 so far plus 50


def test_fifty_accounts_and_a_hundred_services_fit_slack_with_everything_in_the_thread() -> None:
    accounts = [f"{n:012d}" for n in range(1, 51)]
    rows = [
        AccountCost(date(2026, 11, 27), account, f"service-{s:03d}-with-a-long-name", Decimal("1.25"), "USD")
        for account in accounts
        for s in range(100)
    ]
    digest = build_org_digest(rows, TODAY, forecast="no data", team_channels={})

    message = render_org_digest(digest, {a: f"account {a}" for a in accounts}, 10)

    assert len(message.blocks) <= MAX_BLOCKS
    assert all(len(b.get("text", {}).get("text", "")) <= MAX_SECTION_TEXT for b in message.blocks)
    text = json.dumps(message.blocks, ensure_ascii=False)
    assert "`other (40 accounts)` 5,000.00 USD" in text and "`other (90 services)` 5,625.00 USD" in text
    assert [reply.text.split(",")[0] for reply in message.replies] == ["All 50 accounts", "All 100 services"]
    assert all(len(reply.blocks) <= MAX_BLOCKS for reply in message.replies)


def test_an_unavailable_digest_says_so_in_cost_explorers_words() -> None:
    message = unavailable_message("AccessDeniedException: no")
    assert message.text == "org cost digest unavailable: AccessDeniedException: no"
