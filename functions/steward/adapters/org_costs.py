"""The organisation's costs from the management account: one GetCostAndUsage query grouped by linked account and
cost tag (every page), the organisation's forecast, and the member accounts' names from Organizations."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from botocore.exceptions import BotoCoreError, ClientError

from steward.adapters.aws import AwsClients, is_transient
from steward.adapters.costs import USAGE_ONLY, CostExplorer, tag_value
from steward.domain.org_costs import AccountCost

ORG_DIGEST_ACTIONS = frozenset({"ce:GetCostAndUsage", "ce:GetCostForecast", "organizations:ListAccounts"})


class OrgCosts(CostExplorer):
    def account_costs(self, start: date, end: date, tag_key: str, metric: str) -> tuple[list[AccountCost], int]:
        """Daily cost per (linked account, cost tag value) over [start, end); and how many pages that took.

        GroupBy takes at most two groups (Cost Explorer API Reference, GetCostAndUsage, GroupBy): the AWS-service
        split the account digest has is dropped here. The management account sees every member's costs.
        """
        rows: list[AccountCost] = []
        pages = 0
        for page in self._pages(
            TimePeriod={"Start": start.isoformat(), "End": end.isoformat()},
            Granularity="DAILY",
            Metrics=[metric],
            GroupBy=[{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "TAG", "Key": tag_key}],
            Filter=USAGE_ONLY,
        ):
            pages += 1
            for result in page.get("ResultsByTime", []):
                day = date.fromisoformat(result["TimePeriod"]["Start"])
                estimated = bool(result.get("Estimated", False))
                for group in result.get("Groups", []):
                    keys = group["Keys"]
                    figure = group["Metrics"][metric]
                    rows.append(
                        AccountCost(
                            day,
                            keys[0],
                            tag_value(keys[1]) if len(keys) > 1 else "",
                            Decimal(figure["Amount"]),
                            figure["Unit"],
                            estimated,
                        )
                    )
        return rows, pages


class Organization:
    def __init__(self, aws: AwsClients) -> None:
        self._aws = aws

    def account_names(self) -> dict[str, str]:
        """Account id -> name for every account Organizations lists (every page: a page may be empty while more
        follow, per the Organizations API Reference, ListAccounts). Unreadable: no names, the ids still show."""
        names: dict[str, str] = {}
        try:
            paginator = self._aws.organizations.get_paginator("list_accounts")
            for page in paginator.paginate():
                for account in page.get("Accounts", []):
                    names[account["Id"]] = account.get("Name", "")
        except (ClientError, BotoCoreError) as error:
            if is_transient(error):
                raise
            return {}
        return names
