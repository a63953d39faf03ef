"""Least privilege: each function's role grants exactly the IAM actions its code declares it calls, and no
mutating action on Resource "*"."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from devtools.template import functions

WORKFLOWS = {
    "OffHoursFunction": "off_hours",
    "SpotFallbackFunction": "spot_fallback",
    "DeployRollbackFunction": "deploy_rollback",
    "BudgetAlertFunction": "budget_alert",
    "CostReportFunction": "cost_report",
}
READ_PREFIXES = ("Describe", "List", "Get", "View", "Query")


def statements(function: str) -> list[dict[str, Any]]:
    found = []
    for policy in functions()[function]["Properties"]["Policies"]:
        for raw in policy["Statement"]:
            # A conditional statement counts with the branch taken when Slack is configured.
            found.append(raw["Fn::If"][1] if "Fn::If" in raw else raw)
    return found


def actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


@pytest.mark.parametrize("function", sorted(WORKFLOWS))
def test_each_role_grants_exactly_what_the_code_calls(function: str) -> None:
    declared = importlib.import_module(f"steward.workflows.{WORKFLOWS[function]}").IAM_ACTIONS
    granted = set().union(*(actions(s) for s in statements(function)))

    assert sorted(granted - declared) == [], "granted but never called"
    assert sorted(declared - granted) == [], "called but not granted"


@pytest.mark.parametrize("function", sorted(WORKFLOWS))
def test_no_mutating_action_is_granted_on_every_resource(function: str) -> None:
    for statement in statements(function):
        if statement["Resource"] == "*":
            mutating = {a for a in actions(statement) if not a.split(":", 1)[1].startswith(READ_PREFIXES)}
            assert not mutating, f"{function} {statement['Sid']}: {mutating} on *"


def test_spot_fallback_may_only_change_opted_in_services() -> None:
    [shift] = [s for s in statements("SpotFallbackFunction") if "ecs:UpdateService" in actions(s)]
    assert shift["Condition"] == {"StringEquals": {"aws:ResourceTag/steward:spot-fallback": "on"}}
