"""The organisation cost digest through the real handler, as the management account runs it: an organisation and
its accounts in moto's Organizations; Cost Explorer results grouped by linked account and cost tag injected into
moto's cost-and-usage queue; GetCostForecast (moto has none) answered by a before-call hook."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from devtools.slack_standin import SlackStandIn
from devtools.strict import StrictAws
from moto.ce.models import ce_backends
from moto.core import DEFAULT_ACCOUNT_ID

from steward.handlers import org_digest
from steward.runtime import shared_aws

NOW = "2026-11-28T07:30:00Z"  # yesterday is Friday 27 November
TODAY, YESTERDAY = date(2026, 11, 28), date(2026, 11, 27)
API_CHANNEL = "C0APITEAM01"


@pytest.fixture
def organisation(aws: None, strict_aws: StrictAws, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An organisation of two member accounts; account name -> id. The api team's channel is mapped."""
    strict_aws.today = TODAY
    organizations = boto3.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    for name in ("payments-prod", "search-prod"):
        organizations.create_account(Email=f"{name}@example.com", AccountName=name)
    accounts = organizations.list_accounts()["Accounts"]
    monkeypatch.setenv("TEAM_CHANNELS", json.dumps({"api": API_CHANNEL}))
    return {account["Name"]: account["Id"] for account in accounts}


def day_result(day: date, groups: dict[tuple[str, str], str], estimated: bool = False) -> dict[str, Any]:
    return {
        "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
        "Total": {},
        "Groups": [
            {"Keys": [account, f"service${tag}"], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}
            for (account, tag), amount in groups.items()
        ],
        "Estimated": estimated,
    }


def month(groups: dict[tuple[str, str], str]) -> dict[str, Any]:
    days = [date(2026, 11, 1) + timedelta(days=n) for n in range(27)]
    return {"ResultsByTime": [day_result(day, groups, estimated=day == YESTERDAY) for day in days]}


def queue(*pages: dict[str, Any]) -> None:
    ce_backends[DEFAULT_ACCOUNT_ID]["global"].cost_usage_results_queue.extend(pages)


def requests_made() -> list[dict[str, Any]]:
    return [json.loads(body) for body in ce_backends[DEFAULT_ACCOUNT_ID]["global"].cost_usage_results]


def forecast(answer: dict[str, Any]) -> list[dict[str, Any]]:
    from botocore.awsrequest import AWSResponse

    requests: list[dict[str, Any]] = []

    def respond(params: dict[str, Any], **kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        requests.append(json.loads(params["body"]))
        return AWSResponse("https://ce.us-east-1.amazonaws.com/", 200, {}, None), answer

    shared_aws().ce.meta.events.register("before-call.ce.GetCostForecast", respond)
    return requests


def refuse_cost_and_usage() -> None:
    def refuse(**kwargs: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
            "GetCostAndUsage",
        )

    shared_aws().ce.meta.events.register("before-call.ce.GetCostAndUsage", refuse)


def digest(context: Any) -> dict[str, Any]:
    result: dict[str, Any] = org_digest.lambda_handler(
        {"source": "steward.scheduler", "task": "cost-digest", "now": NOW}, context
    )
    return result


def test_the_digest_lists_accounts_by_name_and_id_and_the_api_team_gets_its_slice_across_accounts(
    organisation: dict[str, str], lambda_context: Any, slack: SlackStandIn
) -> None:
    # Given two member accounts running the api service, one of them also search, over two pages of results
    payments, search = organisation["payments-prod"], organisation["search-prod"]
    first = month({(payments, "api"): "10.00", (search, "api"): "4.00"})
    first["NextPageToken"] = "page-2"
    queue(first, {"ResultsByTime": [day_result(YESTERDAY, {(search, "search"): "7.00"})]})
    forecasts = forecast({"Total": {"Amount": "40.00", "Unit": "USD"}})

    # When the morning's digest runs in the management account
    result = digest(lambda_context)

    # Then one query grouped by linked account and cost tag, every page, and one forecast: three CE requests
    first_request, second_request = requests_made()
    assert first_request["GroupBy"] == [
        {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"},
        {"Type": "TAG", "Key": "service"},
    ]
    assert first_request["TimePeriod"] == {"Start": "2026-11-01", "End": "2026-11-28"}
    assert {k: v for k, v in second_request.items() if k != "NextPageToken"} == first_request
    assert [f["TimePeriod"] for f in forecasts] == [{"Start": "2026-11-28", "End": "2026-12-01"}]
    assert result["cost_explorer_requests"] == 3
    assert shared_aws().calls["ce.GetCostAndUsage"] == 2 and shared_aws().calls["ce.GetCostForecast"] == 1
    assert shared_aws().calls["organizations.ListAccounts"] == 1
    # and Steward's channel gets the organisation's totals, accounts by name and id
    main, team = slack.messages
    assert main.body["channel"] == os.environ["SLACK_CHANNEL"]
    assert main.text.startswith("Organisation cost digest — Fri 2026-11-27 (UTC): 21.00 USD yesterday")
    text = json.dumps(main.blocks, ensure_ascii=False)
    assert f"`search-prod ({search})` 11.00 USD · MTD 115.00 USD" in text
    assert f"`payments-prod ({payments})` 10.00 USD · MTD 270.00 USD" in text
    assert "`api` 14.00 USD · MTD 378.00 USD" in text and "`search` 7.00 USD" in text
    assert "*Forecast* 425.00 USD" in text  # 385 so far in November and 40 forecast from today
    # and the api team's channel gets the api service in each account, nothing of search
    assert team.body["channel"] == API_CHANNEL
    team_text = json.dumps(team.blocks, ensure_ascii=False)
    assert f"payments-prod ({payments})` 10.00 USD" in team_text and f"search-prod ({search})` 4.00 USD" in team_text
    assert "`search`" not in team_text


def test_a_second_delivery_of_the_same_morning_posts_nothing(
    organisation: dict[str, str], lambda_context: Any, slack: SlackStandIn
) -> None:
    queue(month({(organisation["payments-prod"], "api"): "10.00"}), month({}))
    forecast({"Total": {"Amount": "40.00", "Unit": "USD"}})

    digest(lambda_context)
    again = digest(lambda_context)

    assert again["outcome"] == "duplicate"
    assert len(slack.messages) == 2  # the digest and the api team's slice, once


def test_cost_explorer_refusing_posts_unavailable_once_a_day_and_raises_never_a_digest_of_zeros(
    organisation: dict[str, str], lambda_context: Any, slack: SlackStandIn
) -> None:
    refuse_cost_and_usage()

    for _ in range(3):  # the schedule's delivery and Lambda's two retries
        with pytest.raises(org_digest.org_digest.OrgDigestUnavailable):
            digest(lambda_context)

    assert [m.text for m in slack.messages] == ["org cost digest unavailable: AccessDeniedException: no"]
    assert shared_aws().calls["ce.GetCostForecast"] == 0
