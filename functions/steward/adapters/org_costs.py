"""The organisation's costs from the management account: one GetCostAndUsage query grouped by linked account and
cost tag (every page), the organisation's forecast, and the member accounts' names from Organizations."""

from __future__ import annotations

from datetime import date

from botocore.exceptions import BotoCoreError, ClientError

from steward.adapters.aws import AwsClients, is_transient
from steward.adapters.costs import CostExplorer, tag_value
from steward.domain.org_costs import AccountCost

ORG_DIGEST_ACTIONS = frozenset({"ce:GetCostAndUsage", "ce:GetCostForecast", "organizations:ListAccounts"})


class OrgCosts(CostExplorer):
    def account_costs(self, start: date, end: date, tag_key: str, metric: str) -> tuple[list[AccountCost], int]:
        """Daily cost per (linked account, cost tag value) over [start, end); and how many pages that took.

        GroupBy takes at most two groups (Cost Explorer API Reference, GetCostAndUsage, GroupBy): the AWS-service
        split the account digest has is dropped here. The management account sees every member's costs.
        """
        by = [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "TAG", "Key": tag_key}]
        groups, pages = self.daily_groups(start, end, metric, by)
        rows = [
            AccountCost(
                g.day, g.keys[0], tag_value(g.keys[1]) if len(g.keys) > 1 else "", g.amount, g.unit, g.estimated
            )
            for g in groups
        ]
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
