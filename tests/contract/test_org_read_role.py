"""The member stack's read-only role for the organisation view: created only when the management account is named,
assumable only from that account with the external id, and able only to read what Steward holds. moto does not
evaluate trust policies, so this checks the template itself."""

from __future__ import annotations

import json
from typing import Any

import pytest
from devtools.iam_check import Statement, World, as_tuple, moto_world, sar_problems
from devtools.template import template

MANAGEMENT = "111122223333"
EXTERNAL_ID = "steward-org-4f9c2a"
ORG = moto_world(OrgManagementAccountId=MANAGEMENT, OrgExternalId=EXTERNAL_ID)
READ_ONLY = {
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "ecs:DescribeClusters",
    "ecs:DescribeServices",
    "ecs:ListClusters",
    "ecs:ListServices",
    "rds:DescribeDBClusters",
    "rds:DescribeDBInstances",
    "ssm:GetParameter",
}


def read_role() -> dict[str, Any]:
    return dict(template()["Resources"]["OrgReadRole"])


def created(world: World) -> bool:
    return world.condition(read_role()["Condition"])


def rules_refusing(world: World) -> list[str]:
    """The template's Rules whose assertion fails for these parameter values (CloudFormation refuses the stack)."""
    refused = []
    for name, rule in template().get("Rules", {}).items():
        if "RuleCondition" in rule and not world.resolve(rule["RuleCondition"]):
            continue
        if not all(world.resolve(assertion["Assert"]) for assertion in rule["Assertions"]):
            refused.append(name)
    return refused


def permissions(world: World) -> list[Statement]:
    found = []
    for policy in read_role()["Properties"]["Policies"]:
        for raw in world.resolve(policy["PolicyDocument"]["Statement"]):
            assert raw["Effect"] == "Allow" and "NotAction" not in raw and "NotResource" not in raw, raw
            found.append(Statement("OrgReadRole", raw["Sid"], as_tuple(raw["Action"]), as_tuple(raw["Resource"]), {}))
    return found


def test_a_stack_without_a_management_account_creates_no_org_role() -> None:
    # Given the parameters' defaults (a single-account deploy)
    # When CloudFormation evaluates the role's condition
    # Then there is no role, and nothing refuses the stack
    assert template()["Parameters"]["OrgManagementAccountId"]["Default"] == ""
    assert template()["Parameters"]["OrgExternalId"]["Default"] == ""
    assert not created(moto_world())
    assert rules_refusing(moto_world()) == []


def test_a_management_account_without_an_external_id_is_refused() -> None:
    # Given a management account but no external id
    world = moto_world(OrgManagementAccountId=MANAGEMENT)

    # Then CloudFormation refuses the parameters instead of creating a role anyone in that account could assume
    assert rules_refusing(world) != []
    assert rules_refusing(ORG) == []


def test_only_the_management_account_with_the_external_id_may_assume_the_role() -> None:
    # Given a member stack that names its management account and external id
    assert created(ORG)

    # When its trust policy is resolved
    trust = ORG.resolve(read_role()["Properties"]["AssumeRolePolicyDocument"])

    # Then one statement trusts that account's root (its IAM policies decide who there) and only with the external id
    assert trust["Version"] == "2012-10-17"
    [statement] = trust["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
    }


def test_the_org_role_only_reads() -> None:
    # Given the role's permissions in a member account
    statements = permissions(ORG)

    # Then it reads the state table, the services, the databases and the stack's three parameters, and changes nothing
    assert {action for statement in statements for action in statement.actions} == READ_ONLY
    assert [s.sid for s in statements if "*" in s.resources] == ["FindServices"]
    parameters = {r for s in statements if "ssm:GetParameter" in s.actions for r in s.resources}
    assert parameters == {
        "arn:aws:ssm:eu-central-1:123456789012:parameter/steward-test/schedules",
        "arn:aws:ssm:eu-central-1:123456789012:parameter/steward-test/pause",
        "arn:aws:ssm:eu-central-1:123456789012:parameter/steward-test/org-view",
    }
    tables = {r for s in statements if "dynamodb:Scan" in s.actions for r in s.resources}
    assert tables <= {
        "arn:aws:dynamodb:eu-central-1:123456789012:table/steward-test-state",
        "arn:aws:dynamodb:eu-central-1:123456789012:table/steward-test-state/index/by-record",
    }


@pytest.mark.parametrize("statement", permissions(ORG), ids=lambda s: s.sid)
def test_aws_honours_every_grant_of_the_org_role(statement: Statement) -> None:
    assert sar_problems(statement) == []


def test_the_org_role_is_an_output_only_when_created() -> None:
    output = template()["Outputs"]["OrgReadRoleArn"]
    assert output["Condition"] == read_role()["Condition"]
    assert output["Value"] == {"Fn::GetAtt": ["OrgReadRole", "Arn"]}


def test_the_org_view_parameter_names_what_the_cli_reads_only_when_the_role_exists() -> None:
    # Given a member stack with the org role
    body = template()["Resources"]["OrgViewParameter"]

    # Then the parameter the CLI finds by name exists with the role, and tells the stack's table and settings
    assert body["Condition"] == read_role()["Condition"]
    assert body["Properties"]["Name"] == {"Fn::Sub": "/${AWS::StackName}/org-view"}
    view = json.loads(ORG.resolve(body["Properties"]["Value"]))
    assert view == {
        "state_table": "steward-test-state",
        "environment": ORG.parameters.get("Environment", view["environment"]),
        "dry_run": view["dry_run"],
        "scope_clusters": view["scope_clusters"],
        "account_wide": view["account_wide"],
        "schedules_parameter": "/steward-test/schedules",
        "pause_parameter": "/steward-test/pause",
    }
