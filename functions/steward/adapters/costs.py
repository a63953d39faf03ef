"""Cost Explorer, Budgets and CloudWatch metrics: few requests (Cost Explorer bills each one), Decimal money with
the unit AWS returned, credits and refunds excluded, every page read. Also the digest's two once-a-day claims."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from msgspec import Struct

from steward.adapters.aws import AwsClients, is_transient
from steward.adapters.state import Key, StateStore, StateUnavailable
from steward.domain.services import ServiceView

COST_DRIVER_ACTIONS = frozenset({"ce:GetCostAndUsage"})
DIGEST_ACTIONS = frozenset(
    {"ce:GetCostAndUsage", "ce:GetCostForecast", "budgets:ViewBudget", "cloudwatch:GetMetricData"}
)
# Credits and refunds are not what a service cost; they would hide real spend.
USAGE_ONLY = {"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit", "Refund"]}}}
METRIC_BATCH = 500  # GetMetricData takes at most 500 queries a request


class CostsUnavailable(RuntimeError):
    """Cost Explorer could not answer; the message says why. Never report zeros instead."""


class DailyCost(Struct, frozen=True):
    day: date
    tag_value: str  # "" is the untagged share
    service: str  # the AWS service (SERVICE dimension)
    amount: Decimal
    unit: str
    estimated: bool


class DailyGroup(Struct, frozen=True):
    """One group's figure for one day, as GetCostAndUsage answers it."""

    day: date
    keys: tuple[str, ...]
    amount: Decimal
    unit: str
    estimated: bool


def tag_value(key: str) -> str:
    """Cost Explorer writes tag groups as 'KEY$value'; untagged spend is 'KEY$'."""
    return key.split("$", 1)[1] if "$" in key else key


class CostExplorer:
    def __init__(self, aws: AwsClients) -> None:
        self._aws = aws

    def _pages(self, **request: Any) -> Iterator[dict[str, Any]]:
        """Every page of one GetCostAndUsage query: the same filter and grouping on each NextPageToken."""
        token: str | None = None
        while True:
            page_request = {**request, **({"NextPageToken": token} if token else {})}
            try:
                page = self._aws.ce.get_cost_and_usage(**page_request)
            except (ClientError, BotoCoreError) as error:
                if is_transient(error):
                    raise
                raise CostsUnavailable(_describe(error)) from error
            yield page
            token = page.get("NextPageToken")
            if not token:
                return

    def spend_by_tag(
        self, start: date, end: date, tag_key: str, metric: str = "UnblendedCost"
    ) -> list[tuple[str, Decimal, str]]:
        """Spend per cost-tag value over [start, end), largest first."""
        totals: dict[str, tuple[Decimal, str]] = {}
        for page in self._pages(
            TimePeriod={"Start": start.isoformat(), "End": end.isoformat()},
            Granularity="MONTHLY",
            Metrics=[metric],
            GroupBy=[{"Type": "TAG", "Key": tag_key}],
            Filter=USAGE_ONLY,
        ):
            for result in page.get("ResultsByTime", []):
                for group in result.get("Groups", []):
                    value = tag_value(group["Keys"][0])
                    figure = group["Metrics"][metric]
                    previous = totals.get(value, (Decimal(0), figure["Unit"]))[0]
                    totals[value] = (previous + Decimal(figure["Amount"]), figure["Unit"])
        return sorted(((name, amount, unit) for name, (amount, unit) in totals.items()), key=lambda row: -row[1])

    def daily_groups(
        self, start: date, end: date, metric: str, group_by: list[dict[str, str]]
    ) -> tuple[list[DailyGroup], int]:
        """Each day's figure per group over [start, end), every page, credits and refunds left out; and how many
        pages that took."""
        groups: list[DailyGroup] = []
        pages = 0
        for page in self._pages(
            TimePeriod={"Start": start.isoformat(), "End": end.isoformat()},
            Granularity="DAILY",
            Metrics=[metric],
            GroupBy=group_by,
            Filter=USAGE_ONLY,
        ):
            pages += 1
            for result in page.get("ResultsByTime", []):
                day = date.fromisoformat(result["TimePeriod"]["Start"])
                estimated = bool(result.get("Estimated", False))
                for group in result.get("Groups", []):
                    figure = group["Metrics"][metric]
                    keys = tuple(group["Keys"])
                    groups.append(DailyGroup(day, keys, Decimal(figure["Amount"]), figure["Unit"], estimated))
        return groups, pages

    def daily_costs(self, start: date, end: date, tag_key: str, metric: str) -> tuple[list[DailyCost], int]:
        """Daily cost per (cost tag, AWS service) over [start, end); and how many pages that took."""
        by = [{"Type": "TAG", "Key": tag_key}, {"Type": "DIMENSION", "Key": "SERVICE"}]
        groups, pages = self.daily_groups(start, end, metric, by)
        rows = [
            DailyCost(g.day, tag_value(g.keys[0]), g.keys[1] if len(g.keys) > 1 else "", g.amount, g.unit, g.estimated)
            for g in groups
        ]
        return rows, pages

    def month_forecast(self, start: date, end: date, metric: str) -> tuple[Decimal, str] | str:
        """The forecast for [start, end), or why there is none (new accounts and month ends have none).

        Start must be today or later (Cost Explorer API Reference, GetCostForecast): the days before are actuals.
        """
        try:
            response = self._aws.ce.get_cost_forecast(
                TimePeriod={"Start": start.isoformat(), "End": end.isoformat()},
                Metric=_forecast_metric(metric),
                Granularity="MONTHLY",
                Filter=USAGE_ONLY,
            )
        except (ClientError, BotoCoreError) as error:
            if is_transient(error):
                raise
            return _describe(error)
        total = response["Total"]
        return Decimal(total["Amount"]), total["Unit"]

    def budget_limit(self, account_id: str, environment: str) -> tuple[str, Decimal, str] | None:
        """The monthly cost budget whose name mentions the environment, as (name, limit, unit)."""
        try:
            paginator = self._aws.budgets.get_paginator("describe_budgets")
            for page in paginator.paginate(AccountId=account_id):
                for budget in page.get("Budgets", []):
                    # Usage, RI and Savings Plans budgets count hours or percent, and RI/Savings Plans ones may
                    # carry no BudgetLimit at all (AWS Budgets API Reference, Budget).
                    limit = budget.get("BudgetLimit")
                    if (
                        environment in budget["BudgetName"]
                        and budget.get("BudgetType") == "COST"
                        and budget.get("TimeUnit") == "MONTHLY"
                        and limit
                    ):
                        return budget["BudgetName"], Decimal(limit["Amount"]), limit["Unit"]
        except (ClientError, BotoCoreError) as error:
            if is_transient(error):
                raise
        return None

    def account_id(self) -> str:
        """The account the function runs in. sts:GetCallerIdentity needs no IAM permission (AWS STS API Reference)."""
        return str(self._aws.sts.get_caller_identity()["Account"])

    def utilisation(
        self, services: Sequence[ServiceView], start: datetime, end: datetime
    ) -> list[tuple[float | None, float | None]]:
        """Average CPU and memory utilisation of each service over [start, end], in the order given (None: no
        datapoints); hourly averages, two queries a service, no request when there is no service."""
        queries = [
            _utilisation_query(f"{metric[0].lower()}{index}", metric, view)
            for index, view in enumerate(services)
            for metric in ("CPUUtilization", "MemoryUtilization")
        ]
        averages = self.metric_averages(queries, start, end) if queries else {}
        return [(averages.get(f"c{index}"), averages.get(f"m{index}")) for index in range(len(services))]

    def metric_averages(self, queries: list[dict[str, Any]], start: Any, end: Any) -> dict[str, float]:
        """Average of each query's datapoints; one GetMetricData request per 500 queries (plus its pages)."""
        averages: dict[str, float] = {}
        for offset in range(0, len(queries), METRIC_BATCH):
            batch = queries[offset : offset + METRIC_BATCH]
            paginator = self._aws.cloudwatch.get_paginator("get_metric_data")
            values: dict[str, list[float]] = {}
            for page in paginator.paginate(MetricDataQueries=batch, StartTime=start, EndTime=end):
                for result in page.get("MetricDataResults", []):
                    values.setdefault(result["Id"], []).extend(result.get("Values", []))
            for query_id, points in values.items():
                if points:
                    averages[query_id] = sum(points) / len(points)
        return averages


def _utilisation_query(query_id: str, metric: str, view: ServiceView) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/ECS",
                "MetricName": metric,
                "Dimensions": [
                    {"Name": "ClusterName", "Value": view.cluster},
                    {"Name": "ServiceName", "Value": view.name},
                ],
            },
            "Period": 3600,
            "Stat": "Average",
        },
    }


class DigestDay(Struct, frozen=True):
    """One digest a day, however often the schedule delivers: the first delivery claims the day it reports on."""

    state: StateStore
    day: date  # the day the digest is about (yesterday)
    now: datetime

    @property
    def key(self) -> Key:
        return Key(pk="digest", sk=self.day.isoformat())

    def take(self) -> bool:
        return self.state.put_new(self.key, {"posted_at": self.now.isoformat()}, expires=self.now + timedelta(days=40))

    def release(self) -> None:
        self.state.delete(self.key)


class UnavailableNotice(Struct, frozen=True):
    """Lambda retries a failed digest twice: the team hears about it once a day (or, with no state table, each time)."""

    state: StateStore
    today: date
    reason: str
    now: datetime

    @property
    def key(self) -> Key:
        return Key(pk="digest-unavailable", sk=self.today.isoformat())

    def take(self) -> bool:
        try:
            return self.state.put_new(self.key, {"reason": self.reason}, expires=self.now + timedelta(days=2))
        except StateUnavailable:
            return True

    def release(self) -> None:
        self.state.delete(self.key)


def _forecast_metric(metric: str) -> str:
    return {
        "UnblendedCost": "UNBLENDED_COST",
        "AmortizedCost": "AMORTIZED_COST",
        "NetUnblendedCost": "NET_UNBLENDED_COST",
        "NetAmortizedCost": "NET_AMORTIZED_COST",
        "BlendedCost": "BLENDED_COST",
    }[metric]


def _describe(error: Exception) -> str:
    if isinstance(error, ClientError):
        return f"{error.response['Error'].get('Code')}: {error.response['Error'].get('Message', '')}"
    return str(error)
