"""template.yaml's scope: each stack names its environment and, optionally, its clusters; exactly one stack per
account (AccountWide=true) schedules the account-wide cost digest."""

from __future__ import annotations

import re

from devtools.iam_check import moto_world
from devtools.template import function_environment, functions, template

from steward.settings import Settings


def digest_schedules(**parameters: str) -> list[str]:
    """The resources that schedule the cost digest in a stack deployed with `parameters` (conditions evaluated)."""
    world = moto_world(**parameters)
    found = []
    for name, body in template()["Resources"].items():
        condition = body.get("Condition")
        if condition is not None and not world.condition(condition):
            continue
        if (
            body["Type"] == "AWS::Scheduler::Schedule"
            and '"task": "cost-digest"' in body["Properties"]["Target"]["Input"]
        ):
            found.append(name)
    for name, body in functions().items():
        for event in body["Properties"].get("Events", {}).values():
            if '"task": "cost-digest"' in str(event.get("Properties", {}).get("Input", "")):
                found.append(f"{name} event")
    return found


def test_only_an_account_wide_stack_schedules_the_cost_digest() -> None:
    assert digest_schedules(AccountWide="true") == ["CostReportFunctionDaily"]
    assert digest_schedules(AccountWide="false") == []
    assert template()["Parameters"]["AccountWide"]["Default"] == "true"


def test_the_digest_schedule_and_its_role_exist_together() -> None:
    resources = template()["Resources"]
    schedule, role = resources["CostReportFunctionDaily"], resources["CostReportFunctionDailyRole"]

    assert schedule["Condition"] == role["Condition"] == "IsAccountWide"
    assert schedule["Properties"]["Target"]["RoleArn"] == {"Fn::GetAtt": ["CostReportFunctionDailyRole", "Arn"]}
    assert schedule["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": ["CostReportFunction", "Arn"]}
    [statement] = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Resource"] == {"Fn::GetAtt": ["CostReportFunction", "Arn"]}


def test_every_function_knows_the_stacks_scope_and_whether_it_is_account_wide() -> None:
    for name in functions():
        environment = function_environment(name)
        assert environment["STEWARD_ENVIRONMENT"] == {"Ref": "Environment"}
        assert environment["SCOPE_CLUSTERS"] == {"Ref": "ScopeClusters"}
        assert environment["ACCOUNT_WIDE"] == {"Ref": "AccountWide"}
    aliases = {field.alias for field in Settings.model_fields.values()}
    assert {"SCOPE_CLUSTERS", "ACCOUNT_WIDE"} <= aliases


def test_scope_clusters_takes_comma_separated_cluster_names_or_nothing() -> None:
    parameter = template()["Parameters"]["ScopeClusters"]
    pattern = re.compile(parameter["AllowedPattern"])

    assert parameter["Default"] == ""
    for accepted in ("", "pyairtable-dev", "pyairtable-dev,batch_dev"):
        assert pattern.fullmatch(accepted), accepted
    for refused in ("pyairtable-dev, batch-dev", "a,,b", ",a", "arn:aws:ecs:eu-central-1:123456789012:cluster/a"):
        assert not pattern.fullmatch(refused), refused
