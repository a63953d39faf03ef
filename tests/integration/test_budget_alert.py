"""Budget notifications through the real handler under moto (Cost Explorer results injected into moto's queue)."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from devtools.platform import seed_reference_platform, service_sizes
from devtools.slack_standin import SlackStandIn
from moto.ce.models import ce_backends
from moto.core import DEFAULT_ACCOUNT_ID

from steward.handlers import budget_alert, off_hours
from tests.conftest import load_event

MONTHLY_80 = "budget_alert/BudgetNotification--monthly-actual-80.json"
MONTHLY_100 = "budget_alert/BudgetNotification--monthly-actual-100.json"
FORECAST_ANOMALY = "budget_alert/BudgetNotification--forecasted-100-anomaly.json"


def with_message_id(path: str, message_id: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event(path))
    event["Records"][0]["Sns"]["MessageId"] = message_id
    return event


def queue_cost_drivers(*rows: tuple[str, str]) -> None:
    groups = [
        {"Keys": [f"service${name}"], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}
        for name, amount in rows
    ]
    ce_backends[DEFAULT_ACCOUNT_ID]["global"].cost_usage_results_queue.append(
        {
            "ResultsByTime": [
                {"TimePeriod": {"Start": "2026-11-01", "End": "2026-12-01"}, "Groups": groups, "Estimated": True}
            ]
        }
    )


@pytest.fixture
def budgets(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDGET_ACTIONS", '{"dev-monthly": {"action": "stop", "selector": {"env": "dev"}}}')
    seed_reference_platform(boto3.session.Session())


def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = budget_alert.lambda_handler(event, context)["records"][0]
    return result


def test_an_80_percent_alert_names_the_threshold_and_the_top_cost_drivers(
    budgets: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    queue_cost_drivers(("llm-orchestrator", "181.20"), ("", "40.05"), ("api-gateway", "96.10"))

    result = run(load_event(MONTHLY_80), lambda_context)

    assert result["outcome"] == "alerted"
    assert result["stopped"] == []
    [message] = slack.messages
    assert message.text == "Budget dev-monthly: 80.0 % threshold (ACTUAL): actual $412.37 of $500.00"
    drivers = message.blocks[2]["text"]["text"]
    assert (
        drivers.index("llm-orchestrator: 181.20 USD")
        < drivers.index("api-gateway: 96.10 USD")
        < drivers.index("_untagged_: 40.05 USD")
    )
    assert "no action configured" not in message.blocks[3]["text"]["text"]  # dev-monthly has one; 80 % is below it
    assert "below 100 %" in message.blocks[3]["text"]["text"]


def test_the_cost_drivers_request_excludes_credits_and_refunds(
    budgets: None, lambda_context: Any, aws_calls: list[str]
) -> None:
    from steward.runtime import shared_aws

    run(load_event(MONTHLY_80), lambda_context)

    assert shared_aws().calls["ce.GetCostAndUsage"] == 1
    body = next(iter(ce_backends[DEFAULT_ACCOUNT_ID]["global"].cost_usage_results.keys()), None)
    assert body is None or "RECORD_TYPE" in body


def test_100_percent_actual_stops_the_selected_services_and_the_next_period_brings_them_back(
    budgets: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    before = service_sizes(boto3.session.Session())
    arn = boto3.client("ecs").describe_services(cluster="pyairtable-dev", services=["frontend"])["services"][0][
        "serviceArn"
    ]
    boto3.client("ecs").tag_resource(resourceArn=arn, tags=[{"key": "steward:protected", "value": "true"}])

    result = run(load_event(MONTHLY_100), lambda_context)

    assert len(result["stopped"]) == 7
    after = service_sizes(boto3.session.Session())
    assert after["frontend"] == before["frontend"]  # protected
    assert after["api-gateway"]["desired"] == 0
    assert after["api-gateway"]["target"][0] == 0  # its auto scaling is held at 0 too
    assert "stopped 7 service(s)" in slack.messages[-1].blocks[3]["text"]["text"]
    # Sunday evening: still November, still office hours off → held. Monday 1 December: a new period → back.
    off_hours.lambda_handler(
        {"source": "steward.scheduler", "task": "off-hours-tick", "now": "2026-11-29T20:00:00Z"}, lambda_context
    )
    assert service_sizes(boto3.session.Session())["api-gateway"]["desired"] == 0
    off_hours.lambda_handler(
        {"source": "steward.scheduler", "task": "off-hours-tick", "now": "2026-12-01T06:00:00Z"}, lambda_context
    )
    assert service_sizes(boto3.session.Session()) == before


def test_a_budget_stop_during_working_hours_is_not_undone_by_the_next_off_hours_tick(
    budgets: None, lambda_context: Any
) -> None:
    run(load_event(MONTHLY_100), lambda_context)  # Friday 21:05 UTC
    off_hours.lambda_handler(
        {"source": "steward.scheduler", "task": "off-hours-tick", "now": "2026-11-27T21:10:00Z"}, lambda_context
    )

    assert service_sizes(boto3.session.Session())["llm-orchestrator"]["desired"] == 0


def test_a_forecasted_implausible_amount_alerts_as_an_anomaly_and_never_acts(
    budgets: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    before = service_sizes(boto3.session.Session())

    result = run(load_event(FORECAST_ANOMALY), lambda_context)

    assert result["stopped"] == []
    assert "anomaly" in result["action"]
    assert "suspected billing-estimate anomaly" in slack.messages[0].text
    assert service_sizes(boto3.session.Session()) == before


def test_80_then_100_the_same_day_alerts_twice_and_100_then_80_once(
    budgets: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    assert run(load_event(MONTHLY_80), lambda_context)["outcome"] == "alerted"
    assert run(load_event(MONTHLY_100), lambda_context)["outcome"] == "alerted"
    assert len(slack.messages) == 2


def test_100_before_80_escalates_once(budgets: None, lambda_context: Any, slack: SlackStandIn) -> None:
    assert run(load_event(MONTHLY_100), lambda_context)["outcome"] == "alerted"
    late = run(load_event(MONTHLY_80), lambda_context)

    assert late["outcome"] == "duplicate"
    assert "or higher this period" in late["reason"]
    assert len(slack.messages) == 1


def test_duplicate_delivery_with_the_same_and_with_a_new_message_id_alerts_once(
    budgets: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    first = run(load_event(MONTHLY_80), lambda_context)
    same = run(load_event(MONTHLY_80), lambda_context)
    new_id = run(with_message_id(MONTHLY_80, "11111111-2222-3333-4444-555555555555"), lambda_context)

    assert [first["outcome"], same["outcome"], new_id["outcome"]] == ["alerted", "duplicate", "duplicate"]
    assert "already handled" in same["reason"]
    assert len(slack.messages) == 1


def test_an_unknown_budget_is_alert_only(aws: None, lambda_context: Any, slack: SlackStandIn) -> None:
    result = run(load_event("budget_alert/BudgetNotification--daily-actual.json"), lambda_context)

    assert result["outcome"] == "alerted"
    assert result["action"] == "no action configured for this budget (alert only)"
    assert slack.messages[0].text.startswith("Budget dev-daily: 80.0 % threshold")


def test_the_auto_adjustment_json_message_is_ignored(aws: None, lambda_context: Any, slack: SlackStandIn) -> None:
    result = run(load_event("budget_alert/BudgetNotification--auto-adjustment-json.json"), lambda_context)

    assert result["outcome"] == "ignored"
    assert "auto-adjustment" in result["reason"]
    assert slack.messages == []


def test_cost_explorer_denied_still_alerts_and_says_the_drivers_are_unavailable(
    budgets: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    from steward.adapters.costs import CostExplorer

    def denied(self: CostExplorer, *args: Any, **kwargs: Any) -> Any:
        from steward.adapters.costs import CostsUnavailable

        raise CostsUnavailable("AccessDeniedException: not authorized to perform ce:GetCostAndUsage")

    monkeypatch.setattr(CostExplorer, "spend_by_tag", denied)
    assert ClientError  # the adapter turns a ClientError into CostsUnavailable (covered by the digest tests)

    run(load_event(MONTHLY_80), lambda_context)

    assert "Top cost drivers unavailable: AccessDeniedException" in slack.messages[0].blocks[2]["text"]["text"]


def test_dry_run_alerts_and_stops_nothing(
    budgets: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRY_RUN", "true")
    before = service_sizes(boto3.session.Session())

    result = run(load_event(MONTHLY_100), lambda_context)

    assert all(name.endswith("(dry run)") for name in result["stopped"])
    assert service_sizes(boto3.session.Session()) == before
    assert slack.messages[0].text.startswith("[dry run] Budget dev-monthly")
