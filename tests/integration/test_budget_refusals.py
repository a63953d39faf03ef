"""Budget actions that would stop too much or nothing at all, through the real handler under moto: a stop action
without a selector is refused (its budget still alerts), and a selector that matches nothing says so."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from devtools.platform import seed_reference_platform, service_sizes
from devtools.slack_standin import SlackStandIn

from steward.handlers import budget_alert
from tests.conftest import emitted_metrics, load_event

MONTHLY_80 = "budget_alert/BudgetNotification--monthly-actual-80.json"
MONTHLY_100 = "budget_alert/BudgetNotification--monthly-actual-100.json"
DAILY_100 = "budget_alert/BudgetNotification--daily-actual-100.json"


def budget_actions(monkeypatch: pytest.MonkeyPatch, actions: dict[str, Any]) -> None:
    monkeypatch.setenv("BUDGET_ACTIONS", json.dumps(actions))
    seed_reference_platform(boto3.session.Session())


def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = budget_alert.lambda_handler(event, context)["records"][0]
    return result


def action_text(slack: SlackStandIn) -> str:
    """The latest alert's "Action:" section."""
    texts = [block.get("text", {}).get("text", "") for block in slack.messages[-1].blocks]
    return next(text for text in texts if text.startswith("*Action:*"))


def test_a_stop_action_without_a_selector_is_refused_and_its_budget_still_alerts_at_80_and_100_percent(
    aws: None,
    lambda_context: Any,
    slack: SlackStandIn,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a stop action for dev-monthly with no selector: it would match every unprotected service in the account
    budget_actions(monkeypatch, {"dev-monthly": {"action": "stop"}})
    before = service_sizes(boto3.session.Session())

    # When the budget reaches 80 % and then 100 %
    at_80 = run(load_event(MONTHLY_80), lambda_context)
    at_100 = run(load_event(MONTHLY_100), lambda_context)

    # Then both alerts are posted, nothing is stopped, and the 100 % alert says why and how to fix BudgetActions
    assert [at_80["outcome"], at_100["outcome"]] == ["alerted", "alerted"]
    assert len(slack.messages) == 2
    assert slack.messages[0].text.startswith("Budget dev-monthly: 80.0 % threshold")
    assert slack.messages[1].text.startswith("Budget dev-monthly: 100.0 % threshold")
    assert at_100["stopped"] == []
    assert service_sizes(boto3.session.Session()) == before
    action = action_text(slack)
    assert "refused" in action
    assert "no selector" in action
    assert "every unprotected service" in action
    assert "BudgetActions" in action
    assert '"selector"' in action  # the fix shows the shape of a selector
    # And the refusal is logged once, at error level, and counted
    refusals = [r for r in caplog.records if r.getMessage() == "budget action refused"]
    assert len(refusals) == 1
    assert refusals[0].levelname == "ERROR"
    assert emitted_metrics(capsys.readouterr().out).get("RefusedBudgetActions") == 1


def test_a_refused_action_leaves_the_other_budgets_actions_working(
    aws: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one budget's stop action without a selector and another's with one
    budget_actions(
        monkeypatch,
        {
            "dev-monthly": {"action": "stop", "selector": {}},
            "dev-daily": {"action": "stop", "selector": {"env": "dev"}},
        },
    )
    before = service_sizes(boto3.session.Session())

    # When the refused budget reaches 100 %, then the other one does
    refused = run(load_event(MONTHLY_100), lambda_context)
    assert service_sizes(boto3.session.Session()) == before
    working = run(load_event(DAILY_100), lambda_context)

    # Then only the budget with a selector stops its services
    assert refused["stopped"] == []
    assert "refused" in refused["action"]
    assert len(working["stopped"]) == 8
    assert all(size["desired"] == 0 for size in service_sizes(boto3.session.Session()).values())
    assert "stopped 8 service(s)" in action_text(slack)


def test_a_selector_that_matches_no_service_says_so_and_names_the_selector(
    aws: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stop action whose selector no service carries (the platform's services are tagged env=dev)
    budget_actions(monkeypatch, {"dev-monthly": {"action": "stop", "selector": {"env": "development"}}})
    before = service_sizes(boto3.session.Session())

    # When the budget reaches 100 %
    result = run(load_event(MONTHLY_100), lambda_context)

    # Then nothing is stopped and the alert says the selector matched no service, naming it
    assert result["stopped"] == []
    assert service_sizes(boto3.session.Session()) == before
    action = action_text(slack)
    assert "matches no service" in action
    assert "env=development" in action
    assert "BudgetActions" in action
    assert "env=development" in result["action"]


def test_a_selector_whose_services_are_all_protected_says_nothing_was_left_to_stop(
    aws: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a selector that matches only frontend, which is protected
    budget_actions(monkeypatch, {"dev-monthly": {"action": "stop", "selector": {"service": "frontend"}}})
    ecs = boto3.client("ecs")
    arn = ecs.describe_services(cluster="pyairtable-dev", services=["frontend"])["services"][0]["serviceArn"]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "steward:protected", "value": "true"}])

    # When the budget reaches 100 %
    result = run(load_event(MONTHLY_100), lambda_context)

    # Then the alert says the selector matched a service but none could be stopped
    assert result["stopped"] == []
    action = action_text(slack)
    assert "service=frontend" in action
    assert "matches 1 service" in action
    assert "protected" in action


def test_in_a_dry_run_a_selector_that_matches_nothing_says_so_too(
    aws: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget_actions(monkeypatch, {"dev-monthly": {"action": "stop", "selector": {"team": "nobody"}}})
    monkeypatch.setenv("DRY_RUN", "true")

    result = run(load_event(MONTHLY_100), lambda_context)

    assert result["stopped"] == []
    assert "matches no service" in action_text(slack)
    assert "team=nobody" in action_text(slack)
