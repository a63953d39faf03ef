"""The cost digest through the real handler. Cost Explorer results are injected into moto's cost-and-usage queue;
moto has no GetCostForecast, so a botocore before-call hook answers that one operation (or fails it) in the test."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from devtools.slack_standin import SlackStandIn
from moto.ce.models import ce_backends
from moto.core import DEFAULT_ACCOUNT_ID

from steward.handlers import cost_report
from steward.runtime import shared_aws

NOW = "2026-11-28T07:30:00Z"  # Saturday morning: yesterday is Friday 27 November
YESTERDAY = date(2026, 11, 27)
START = date(2026, 11, 1)  # the window stretches back to the 1st for month to date


def day_result(day: date, groups: dict[str, str], unit: str = "USD", estimated: bool = False) -> dict[str, Any]:
    return {
        "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
        "Total": {},
        "Groups": [
            {
                "Keys": [f"service${name}", "Amazon Elastic Container Service"],
                "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": unit}},
            }
            for name, amount in groups.items()
        ],
        "Estimated": estimated,
    }


def queue(*pages: dict[str, Any]) -> None:
    ce_backends[DEFAULT_ACCOUNT_ID]["global"].cost_usage_results_queue.extend(pages)


def requests_made() -> list[dict[str, Any]]:
    return [json.loads(body) for body in ce_backends[DEFAULT_ACCOUNT_ID]["global"].cost_usage_results]


def window(groups_by_day: Callable[[date], dict[str, str]], unit: str = "USD") -> dict[str, Any]:
    days = [START + timedelta(days=offset) for offset in range((YESTERDAY - START).days + 1)]
    return {"ResultsByTime": [day_result(day, groups_by_day(day), unit, estimated=day == YESTERDAY) for day in days]}


def forecast(answer: dict[str, Any] | Exception) -> list[dict[str, Any]]:
    """Answer GetCostForecast (moto has no such operation) with `answer`, or raise it; the requests it got."""
    from botocore.awsrequest import AWSResponse

    requests: list[dict[str, Any]] = []

    def respond(params: dict[str, Any], **kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        requests.append(json.loads(params["body"]))
        if isinstance(answer, Exception):
            raise answer
        return AWSResponse("https://ce.us-east-1.amazonaws.com/", 200, {}, None), answer

    shared_aws().ce.meta.events.register("before-call.ce.GetCostForecast", respond)
    return requests


def budgets(*listed: dict[str, Any]) -> None:
    """Answer DescribeBudgets with `listed` (moto refuses to create a budget without a limit)."""
    from botocore.awsrequest import AWSResponse

    def respond(**kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("https://budgets.amazonaws.com/", 200, {}, None), {"Budgets": list(listed)}

    shared_aws().budgets.meta.events.register("before-call.budgets.DescribeBudgets", respond)


def digest(context: Any, now: str = NOW) -> dict[str, Any]:
    result: dict[str, Any] = cost_report.lambda_handler(
        {"source": "steward.scheduler", "task": "cost-digest", "now": now}, context
    )
    return result


@pytest.fixture
def forecast_ok(aws: None) -> None:
    forecast({"Total": {"Amount": "412.50", "Unit": "USD"}})


def test_untagged_spend_is_its_own_row_and_tag_values_with_dollar_signs_survive(
    forecast_ok: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    queue(window(lambda day: {"api-gateway": "10.00", "": "2.50", "pay$ments": "1.25"}))

    result = digest(lambda_context)

    assert result["total"] == "13.75"
    text = json.dumps(slack.messages[0].blocks)
    assert "`(untagged)` 2.50 USD" in text
    assert "|pay$ments> 1.25 USD" in text  # linked to Cost Explorer


def test_one_query_for_15_full_days_grouped_by_tag_and_service_without_credits(
    forecast_ok: None, lambda_context: Any
) -> None:
    queue(window(lambda day: {"api-gateway": "10.00"}))

    result = digest(lambda_context)

    [request] = requests_made()
    assert request["Granularity"] == "DAILY"
    assert request["TimePeriod"] == {"Start": "2026-11-01", "End": "2026-11-28"}
    assert request["GroupBy"] == [{"Type": "TAG", "Key": "service"}, {"Type": "DIMENSION", "Key": "SERVICE"}]
    assert request["Filter"] == {"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit", "Refund"]}}}
    assert request["Metrics"] == ["UnblendedCost"]
    assert result["cost_explorer_requests"] == 2  # one page, one forecast
    assert shared_aws().calls["ce.GetCostAndUsage"] == 1


def test_pagination_repeats_the_filter_and_a_service_first_seen_on_page_two_is_included(
    forecast_ok: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    first = window(lambda day: {"api-gateway": "10.00"})
    first["NextPageToken"] = "page-2"
    queue(first, {"ResultsByTime": [day_result(YESTERDAY, {"saga-orchestrator": "3.00"})]})

    result = digest(lambda_context)

    first_request, second_request = requests_made()
    assert second_request["NextPageToken"] == "page-2"
    assert {k: v for k, v in second_request.items() if k != "NextPageToken"} == first_request
    assert result["services"] == 2
    saga = next(line for line in json.dumps(slack.messages[0].blocks).split("\\n") if "saga-orchestrator" in line)
    assert "d/d new" in saga  # zeros before it appeared, not a missing row


def test_an_estimated_day_is_labelled(forecast_ok: None, lambda_context: Any, slack: SlackStandIn) -> None:
    queue(window(lambda day: {"api-gateway": "10.00"}))

    digest(lambda_context)

    blocks = json.dumps(slack.messages[0].blocks)
    assert "_(estimated)_" in blocks
    assert "marks the most recent days as estimated" in blocks


def test_eighty_services_with_long_names_fit_slacks_limits_and_the_rest_go_to_the_thread(
    forecast_ok: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    names = {f"service-with-a-rather-long-descriptive-name-{i:02d}": f"{i + 1}.{i:02d}" for i in range(80)}
    queue(window(lambda day: names))

    digest(lambda_context)

    main, thread = slack.messages
    assert len(main.blocks) <= 50
    for block in main.blocks:
        assert len(block.get("text", {}).get("text", "")) <= 3000
        assert len(block.get("fields", [])) <= 10
    other = next(b["text"]["text"] for b in main.blocks if "other (70 services)" in b.get("text", {}).get("text", ""))
    expected_other = sum(Decimal(f"{i + 1}.{i:02d}") for i in range(70))  # the 70 smallest
    assert f"{expected_other:,.2f} USD" in other
    assert thread.body["thread_ts"]
    assert json.dumps(thread.blocks).count("service-with-a-rather-long") == 80


def test_slack_429_then_success_posts_one_message(forecast_ok: None, lambda_context: Any, slack: SlackStandIn) -> None:
    queue(window(lambda day: {"api-gateway": "10.00"}))
    slack.rate_limit_next(times=1, retry_after=1)

    digest(lambda_context)

    assert len(slack.messages) == 1
    assert len(slack.rejected) == 1


def test_cost_explorer_throttled_then_succeeding_posts_the_digest(
    forecast_ok: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse

    queue(window(lambda day: {"api-gateway": "10.00"}))
    attempts: list[str] = []

    def throttle_twice(request: Any, **kwargs: Any) -> AWSResponse | None:
        attempts.append("sent")
        if len(attempts) > 2:
            return None  # moto answers
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"}, MockRawResponse(body))

    shared_aws().ce.meta.events.register_first("before-send.ce.GetCostAndUsage", throttle_twice)

    result = digest(lambda_context)

    assert len(attempts) == 3  # botocore's retry mode retried the throttled request
    assert result["outcome"] == "posted"
    assert len(slack.messages) == 1


def test_access_denied_posts_unavailable_and_raises_never_a_digest_of_zeros(
    aws: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    def deny(**kwargs: Any) -> None:
        raise ClientError(
            {
                "Error": {
                    "Code": "AccessDeniedException",
                    "Message": "User is not authorized to perform: ce:GetCostAndUsage",
                }
            },
            "GetCostAndUsage",
        )

    shared_aws().ce.meta.events.register("before-call.ce.GetCostAndUsage", deny)

    with pytest.raises(cost_report.cost_report.DigestUnavailable):
        digest(lambda_context)

    [message] = slack.messages
    assert message.text.startswith("cost digest unavailable: AccessDeniedException")
    assert "0.00" not in message.text


def test_lambdas_retries_of_a_failed_digest_tell_the_team_once(
    aws: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    def deny(**kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetCostAndUsage")

    shared_aws().ce.meta.events.register("before-call.ce.GetCostAndUsage", deny)

    for _ in range(3):  # the scheduled delivery and Lambda's two retries
        with pytest.raises(cost_report.cost_report.DigestUnavailable):
            digest(lambda_context)

    assert [m.text for m in slack.messages] == ["cost digest unavailable: AccessDeniedException: no"]


def test_forecast_unavailable_is_said_so(aws: None, lambda_context: Any, slack: SlackStandIn) -> None:
    forecast(
        ClientError(
            {"Error": {"Code": "DataUnavailableException", "Message": "Insufficient amount of historical data"}},
            "GetCostForecast",
        )
    )
    queue(window(lambda day: {"api-gateway": "10.00"}))

    digest(lambda_context)

    assert "*Forecast* unavailable (DataUnavailableException" in json.dumps(slack.messages[0].blocks)


def test_a_non_usd_unit_is_shown_as_returned(aws: None, lambda_context: Any, slack: SlackStandIn) -> None:
    forecast({"Total": {"Amount": "380.00", "Unit": "EUR"}})
    queue(window(lambda day: {"api-gateway": "10.00"}, unit="EUR"))

    result = digest(lambda_context)

    assert result["unit"] == "EUR"
    assert "10.00 EUR" in json.dumps(slack.messages[0].blocks)
    assert "$" not in slack.messages[0].text


def test_the_month_end_forecast_adds_month_to_date_to_the_rest_of_the_month_and_is_compared_with_the_budget(
    aws: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    asked = forecast({"Total": {"Amount": "35.50", "Unit": "USD"}})  # 28 Nov to 1 Dec
    boto3.client("budgets").create_budget(
        AccountId=DEFAULT_ACCOUNT_ID,
        Budget={
            "BudgetName": "dev-monthly",
            "BudgetLimit": {"Amount": "500", "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
        },
    )
    queue(window(lambda day: {"api-gateway": "10.00"}))  # 27 days so far: 270.00

    digest(lambda_context)

    assert "*Forecast* 305.50 USD of 500.00 USD budget (61%)" in json.dumps(slack.messages[0].blocks)
    [request] = asked
    assert request["TimePeriod"] == {"Start": "2026-11-28", "End": "2026-12-01"}  # Start >= today (API reference)
    assert shared_aws().calls["ce.GetCostAndUsage"] == 1  # month to date came from the digest's own query


def test_on_the_first_the_forecast_is_this_months_alone_without_last_months_actuals(
    aws: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    asked = forecast({"Total": {"Amount": "310.00", "Unit": "USD"}})
    november = [date(2026, 11, 1) + timedelta(days=offset) for offset in range(30)]
    queue({"ResultsByTime": [day_result(day, {"api-gateway": "10.00"}) for day in november]})

    digest(lambda_context, now="2026-12-01T07:30:00Z")

    assert "*Forecast* 310.00 USD" in json.dumps(slack.messages[0].blocks)
    assert asked[0]["TimePeriod"] == {"Start": "2026-12-01", "End": "2027-01-01"}


def test_the_budget_compared_is_the_environments_monthly_cost_budget_never_a_utilization_or_usage_one(
    forecast_ok: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    budgets(
        {"BudgetName": "dev-ri-utilization", "TimeUnit": "MONTHLY", "BudgetType": "RI_UTILIZATION"},
        {
            "BudgetName": "dev-fargate-hours",
            "BudgetLimit": {"Amount": "2000", "Unit": "Hrs"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "USAGE",
        },
        {
            "BudgetName": "dev-quarterly",
            "BudgetLimit": {"Amount": "3000", "Unit": "USD"},
            "TimeUnit": "QUARTERLY",
            "BudgetType": "COST",
        },
        {
            "BudgetName": "dev-monthly",
            "BudgetLimit": {"Amount": "1000", "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
        },
    )
    queue(window(lambda day: {"api-gateway": "10.00"}))

    result = digest(lambda_context)

    assert result["outcome"] == "posted"
    assert "682.50 USD of 1,000.00 USD budget (68%)" in json.dumps(slack.messages[0].blocks)


def test_dry_run_returns_the_digest_and_posts_nothing(
    forecast_ok: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRY_RUN", "true")
    queue(window(lambda day: {"api-gateway": "10.00"}))

    result = digest(lambda_context)

    assert result["outcome"] == "dry-run"
    assert result["message"]["text"].startswith("[dry run] Cost digest")
    assert slack.messages == []


def test_a_second_delivery_of_the_same_morning_posts_nothing(
    forecast_ok: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    queue(window(lambda day: {"api-gateway": "10.00"}))

    first, second = digest(lambda_context), digest(lambda_context)

    assert (first["outcome"], second["outcome"]) == ("posted", "duplicate")
    assert len(slack.messages) == 1


def test_a_team_with_a_steward_channel_gets_its_own_services(
    forecast_ok: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    from devtools.platform import ServiceSpec, create_service

    session = boto3.session.Session()
    session.client("ecs").create_cluster(clusterName="pyairtable-dev")
    create_service(
        session.client("ecs"),
        session.client("application-autoscaling"),
        ServiceSpec("frontend", 2),
        tags={"steward:channel": "C0FRONTEND1"},
    )
    queue(window(lambda day: {"api-gateway": "10.00", "frontend": "3.00"}))

    digest(lambda_context)

    team = [m for m in slack.messages if m.body["channel"] == "C0FRONTEND1"]
    assert len(team) == 1
    assert "frontend" in json.dumps(team[0].blocks)
    assert "api-gateway" not in json.dumps(team[0].blocks)


def test_a_digest_slack_refused_is_posted_by_the_next_delivery_of_the_same_morning(
    forecast_ok: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    queue(window(lambda day: {"api-gateway": "10.00"}), window(lambda day: {"api-gateway": "10.00"}))
    slack.down = True
    digest(lambda_context)
    slack.down = False

    retry = digest(lambda_context)

    assert retry["outcome"] == "posted"
    assert [m.text for m in slack.messages] == [retry["message"]["text"]]
    assert digest(lambda_context)["outcome"] == "duplicate"  # the day is claimed once the digest was posted


def test_a_dry_run_says_the_digest_is_unavailable_every_time_and_remembers_nothing(
    aws: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRY_RUN", "true")

    def deny(**kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetCostAndUsage")

    shared_aws().ce.meta.events.register("before-call.ce.GetCostAndUsage", deny)

    for _ in range(2):
        with pytest.raises(cost_report.cost_report.DigestUnavailable):
            digest(lambda_context)

    assert [m.text for m in slack.messages] == ["cost digest unavailable: AccessDeniedException: no"] * 2
    assert boto3.client("dynamodb").scan(TableName="steward-test-state")["Items"] == []


# ------------------------------------------------------------------------------------------ what Steward saved


def off_hours_week(context: Any) -> None:
    """Thursday evening off, Friday morning on (databases 15 minutes ahead), Friday evening off again."""
    from steward.handlers import off_hours

    for now in (
        "2026-11-26T19:00:00Z",
        "2026-11-26T19:10:00Z",
        "2026-11-27T05:45:00Z",
        "2026-11-27T06:00:00Z",
        "2026-11-27T19:00:00Z",
        "2026-11-27T19:10:00Z",
    ):
        off_hours.lambda_handler({"source": "steward.scheduler", "task": "off-hours-tick", "now": now}, context)


def saved_lines(result: dict[str, Any]) -> str:
    texts = [block.get("text", {}).get("text", "") for block in result["message"]["blocks"]]
    return "\n".join(text for text in texts if "yesterday*" in text or "Kept off EC2" in text)


def test_the_digest_shows_database_hours_without_a_price_where_none_is_on_file_and_ec2_services_unpriced(
    forecast_ok: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    from devtools.platform import seed_databases, seed_reference_platform

    # Given the platform in eu-central-1 (no database prices on file) and one service on EC2 capacity, 2 tasks
    session = boto3.session.Session()
    seed_reference_platform(session)
    seed_databases(session)
    ecs = session.client("ecs")
    ecs.register_task_definition(
        family="batch",
        requiresCompatibilities=["EC2"],
        containerDefinitions=[{"name": "batch", "image": "public.ecr.aws/pyairtable/batch:1", "memory": 512}],
    )
    tags = {"service": "batch", "steward:environment": "dev", "steward:schedule": "office-hours"}
    ecs.create_service(
        cluster="pyairtable-dev",
        serviceName="batch",
        taskDefinition="batch",
        desiredCount=2,
        launchType="EC2",
        tags=[{"key": key, "value": value} for key, value in tags.items()],
    )
    off_hours_week(lambda_context)
    queue(window(lambda day: {"api-gateway": "10.00"}))

    result = digest(lambda_context)

    # Then the database hours of Friday (00:00-05:45, then 19:10-24:00) are shown, never priced by a guess
    text = saved_lines(result)
    assert "*Databases stopped yesterday* 21.2 instance-hours _(estimate" in text
    assert "• 10.6 h of `db.t4g.medium` (1 database(s)): no price on file for eu-central-1" in text
    assert "• 10.6 h of `db.r6g.large` (1 database(s)): no price on file for eu-central-1" in text
    # The Fargate services are priced as before, the EC2 one's 22 task-hours (00:00-06:00, 19:00-24:00) are not
    assert "*Saved yesterday* about " in text and "task-hours kept off by off-hours and budget actions" in text
    assert (
        "*Kept off EC2 capacity* 22 task-hours (1 service(s)), not priced: their EC2 instances run and bill until "
        "their Auto Scaling group scales in" in text
    )
