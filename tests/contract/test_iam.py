"""Least privilege: each function's role grants exactly the IAM actions its code declares it calls, and no
mutating action on Resource "*"."""

from __future__ import annotations

import importlib

import pytest
from devtools.iam_check import FUNCTION_MODULES, Statement, moto_world, statements

# Every optional grant switched on: a Slack secret under a customer-managed key.
WORLD = moto_world(SlackTokenKmsKeyArn="arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
WORKFLOWS = {function: module for module, function in FUNCTION_MODULES.items()}
READ_PREFIXES = ("Describe", "List", "Get", "View", "Query")
# Actions an AWS service performs with the function's permissions while serving a call the code makes.
ON_ITS_BEHALF = {"kms:Decrypt": "secretsmanager:GetSecretValue"}


def role(function: str) -> list[Statement]:
    return statements(function, WORLD)


@pytest.mark.parametrize("function", sorted(WORKFLOWS))
def test_each_role_grants_exactly_what_the_code_calls(function: str) -> None:
    declared = importlib.import_module(f"steward.workflows.{WORKFLOWS[function]}").IAM_ACTIONS
    granted = {action for statement in role(function) for action in statement.actions}
    on_its_behalf = {action for action, call in ON_ITS_BEHALF.items() if call in declared}

    assert sorted(granted - declared - on_its_behalf) == [], "granted but never called"
    assert sorted(declared - granted) == [], "called but not granted"
    assert sorted(on_its_behalf - granted) == [], "needed by a call the code makes, but not granted"


@pytest.mark.parametrize("function", sorted(WORKFLOWS))
def test_no_mutating_action_is_granted_on_every_resource(function: str) -> None:
    for statement in role(function):
        if "*" in statement.resources:
            mutating = {a for a in statement.actions if not a.split(":", 1)[1].startswith(READ_PREFIXES)}
            assert not mutating, f"{function} {statement.sid}: {mutating} on *"


def test_spot_fallback_may_only_change_opted_in_services() -> None:
    [shift] = [s for s in role("SpotFallbackFunction") if "ecs:UpdateService" in s.actions]
    assert shift.condition == {
        "StringEqualsIgnoreCase": {"aws:ResourceTag/steward:spot-fallback": ["on", "true", "yes"]}
    }
