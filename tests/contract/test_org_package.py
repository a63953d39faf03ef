"""`make org-package`: the StackSet's template is template.yaml fully expanded (service-managed StackSets run no
transform), with the same parameters, the same role statements, and its code in each region's bucket."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from devtools.iam_check import Statement, sar_problems
from devtools.org_package import (
    CODE_BUCKET,
    LONGEST_REGION,
    NAME_PREFIX_MAX,
    NEW_PARAMETERS,
    ORG_READ_ROLE_NAME,
    inline_nested_stacks,
    names_from_prefix,
    zip_directory,
)
from devtools.template import ROOT, functions, template

TOOLS_PYTHON = ROOT / ".venv-tools" / "bin" / "python"
HASHED_ZIP = re.compile(r"^[0-9a-f]{64}\.zip$")


@cache
def expanded() -> dict[str, Any]:
    """The expanded template with stand-in code keys, built by samtranslator in the tools venv (no `sam build`)."""
    if not TOOLS_PYTHON.exists():
        pytest.fail("samtranslator lives in the tools venv: run `make tools` first")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [str(TOOLS_PYTHON), "-m", "devtools.org_package", "--placeholder-code"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return dict(json.loads(run.stdout))


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in expanded()["Resources"].items() if body["Type"] == kind}


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def parameters_used(value: Any) -> set[str]:
    declared = set(template()["Parameters"]) | set(NEW_PARAMETERS)
    used = set()
    for node in walk(value):
        if isinstance(node, dict) and isinstance(node.get("Ref"), str):
            used.add(node["Ref"])
        if isinstance(node, dict) and "Fn::Sub" in node:
            argument = node["Fn::Sub"]
            used.update(re.findall(r"\$\{([^}!.]+)\}", argument if isinstance(argument, str) else argument[0]))
    return used & declared


def test_the_expanded_template_needs_no_transform() -> None:
    # Given the expanded template
    body = expanded()

    # Then CloudFormation can run it as it is: no transform, no SAM resource, no nested stack to fetch
    assert "Transform" not in body
    kinds = {resource["Type"] for resource in body["Resources"].values()}
    assert not {kind for kind in kinds if kind.startswith("AWS::Serverless::")}
    assert "AWS::CloudFormation::Stack" not in kinds
    assert len(resources("AWS::Lambda::Function")) == len(functions()) == 6
    assert len(resources("AWS::CloudWatch::Alarm")) == 3 * 6


def test_every_parameter_rule_condition_and_output_of_the_sam_template_is_kept() -> None:
    body = expanded()
    for name, declared in template()["Parameters"].items():
        assert body["Parameters"].get(name) == declared, name
    assert body["Parameters"]["CodeBucketPrefix"] == NEW_PARAMETERS["CodeBucketPrefix"]
    assert body["Rules"] == template()["Rules"]
    assert {name: body["Conditions"][name] for name in template()["Conditions"]} == template()["Conditions"]
    assert body["Outputs"] == template()["Outputs"]


@pytest.mark.parametrize("function", sorted(functions()))
def test_health_alarms_dead_letters_keeps_only_the_dead_letter_alarm_of_each_inlined_function(function: str) -> None:
    stack = function.removesuffix("Function") + "Health"
    body = expanded()
    condition = f"{stack}AlarmsOnErrorsAndThrottles"
    assert body["Conditions"][condition] == {"Fn::Equals": [{"Ref": "HealthAlarms"}, "all"]}
    assert body["Resources"][f"{stack}ErrorsAlarm"]["Condition"] == condition
    assert body["Resources"][f"{stack}ThrottlesAlarm"]["Condition"] == condition
    assert "Condition" not in body["Resources"][f"{stack}DeadLettersAlarm"]


@pytest.mark.parametrize("resource", sorted(template()["Resources"]))
def test_no_parameter_is_fixed_at_its_default_by_the_transform(resource: str) -> None:
    """Each stack instance has its own parameter values: a value the transform filled in would be the same for all."""
    # Given a resource of template.yaml (a function with the Globals it takes) and what the expansion made of it
    sam = names_from_prefix(template())
    body = sam["Resources"][resource]
    taken = body if body["Type"] != "AWS::Serverless::Function" else [body, sam["Globals"]["Function"]]
    made = {name: item for name, item in expanded()["Resources"].items() if name.startswith(resource)}
    assert made, resource
    conditions = [expanded()["Conditions"][item["Condition"]] for item in made.values() if "Condition" in item]

    # Then every parameter it reads, the expansion still reads (an inlined stack's through its conditions too)
    assert parameters_used(taken) <= parameters_used([made, conditions])


@pytest.mark.parametrize("function", sorted(functions()))
def test_each_function_role_grants_exactly_the_sam_templates_statements(function: str) -> None:
    # Given a function's role in the expanded template
    role = expanded()["Resources"][f"{function}Role"]["Properties"]
    policies = {policy["PolicyName"]: policy["PolicyDocument"] for policy in role["Policies"]}

    # Then its own statements are template.yaml's, word for word (tests/contract/test_iam*.py check those) ...
    [own] = functions()[function]["Properties"]["Policies"]
    assert policies.pop(f"{function}RolePolicy0")["Statement"] == own["Statement"]

    # ... and SAM adds what `sam deploy` adds: logs, X-Ray, and sending to its own dead-letter queue
    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSXrayWriteOnlyAccess"},
    ]
    [dead_letters] = policies.pop("DeadLetterQueuePolicy")["Statement"]
    queue = f"{function.removesuffix('Function')}HealthDeadLetterQueue"
    assert dead_letters == {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": {"Fn::GetAtt": [queue, "Arn"]}}
    assert policies == {}
    grant = Statement(function, "DeadLetterQueuePolicy", ("sqs:SendMessage",), ("arn:aws:sqs:eu-central-1:1:q",))
    assert sar_problems(grant) == []


def test_the_org_read_role_is_the_sam_templates_with_a_name_the_management_account_can_derive() -> None:
    role = dict(expanded()["Resources"]["OrgReadRole"])
    properties = dict(role.pop("Properties"))
    assert properties.pop("RoleName") == ORG_READ_ROLE_NAME == {"Fn::Sub": "${NamePrefix}-org-read-${AWS::Region}"}
    declared = template()["Resources"]["OrgReadRole"]
    assert {**role, "Properties": properties} == declared


def test_every_function_and_the_layer_read_their_code_from_the_regions_bucket() -> None:
    codes = [body["Properties"]["Code"] for body in resources("AWS::Lambda::Function").values()]
    [layer] = resources("AWS::Lambda::LayerVersion").values()
    for code in [*codes, layer["Properties"]["Content"]]:
        assert code["S3Bucket"] == CODE_BUCKET == {"Fn::Sub": "${CodeBucketPrefix}-${AWS::Region}"}
        assert HASHED_ZIP.match(code["S3Key"]), code
    every_layer_ref = {
        ref["Ref"] for body in resources("AWS::Lambda::Function").values() for ref in body["Properties"]["Layers"]
    }
    assert every_layer_ref == set(resources("AWS::Lambda::LayerVersion"))


def test_names_fit_in_any_stack_set_instance() -> None:
    """A StackSet names each stack StackSet-<name>-<uuid>: names come from NamePrefix, short enough for every limit."""
    body = json.dumps(expanded()["Resources"])
    assert "AWS::StackName" not in body
    # Lambda function names, Scheduler schedule names and IAM role names: at most 64 characters.
    limited = [
        *(b["Properties"]["FunctionName"] for b in resources("AWS::Lambda::Function").values()),
        *(b["Properties"]["Name"] for b in resources("AWS::Scheduler::Schedule").values()),
        ORG_READ_ROLE_NAME,
    ]
    for name in limited:
        text = name["Fn::Sub"].replace("${AWS::Region}", LONGEST_REGION)
        assert text.startswith("${NamePrefix}") and NAME_PREFIX_MAX + len(text) - len("${NamePrefix}") <= 64, text
    pattern = re.compile(expanded()["Parameters"]["NamePrefix"]["AllowedPattern"])
    assert pattern.match("s" * NAME_PREFIX_MAX) and not pattern.match("s" * (NAME_PREFIX_MAX + 1))


@pytest.mark.parametrize("function", sorted(functions()))
def test_each_function_keeps_its_inlined_log_group_queue_and_alarms(function: str) -> None:
    stack = function.removesuffix("Function") + "Health"
    own = expanded()["Resources"][function]["Properties"]
    assert own["LoggingConfig"] == {"LogGroup": {"Ref": f"{stack}LogGroup"}}
    assert own["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [f"{stack}DeadLetterQueue", "Arn"]}}
    log_group = expanded()["Resources"][f"{stack}LogGroup"]["Properties"]["LogGroupName"]
    assert log_group == {"Fn::Sub": ["/aws/lambda/${FunctionName}", {"FunctionName": own["FunctionName"]}]}
    alarm = expanded()["Resources"][f"{stack}DeadLettersAlarm"]["Properties"]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [f"{stack}DeadLetterQueue", "QueueName"]}}
    ]
    assert alarm["AlarmActions"] == [{"Ref": "HealthTopic"}]


# The pieces, in-process.
def test_a_nested_stack_is_inlined_with_the_values_its_parent_passes() -> None:
    nested = {
        "Parameters": {"Name": {"Type": "String"}, "Days": {"Type": "Number", "Default": 7}},
        "Resources": {
            "Group": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": {"Fn::Sub": "/x/${Name}/${Group}"}, "RetentionInDays": {"Ref": "Days"}},
            },
        },
        "Outputs": {"GroupName": {"Value": {"Ref": "Group"}}},
    }
    parent = {
        "Resources": {
            "Health": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {"TemplateURL": "n.yaml", "Parameters": {"Name": {"Ref": "AWS::StackName"}}},
            },
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"LoggingConfig": {"LogGroup": {"Fn::GetAtt": ["Health", "Outputs.GroupName"]}}},
            },
        }
    }

    flat = inline_nested_stacks(parent, lambda url: nested)

    assert flat["Resources"]["HealthGroup"]["Properties"] == {
        "LogGroupName": {"Fn::Sub": ["/x/${Name}/${HealthGroup}", {"Name": {"Ref": "AWS::StackName"}}]},
        "RetentionInDays": 7,
    }
    assert flat["Resources"]["Fn"]["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": "HealthGroup"}}
    assert "Health" not in flat["Resources"]
    assert names_from_prefix(flat)["Resources"]["HealthGroup"]["Properties"]["LogGroupName"] == {
        "Fn::Sub": ["/x/${Name}/${HealthGroup}", {"Name": {"Ref": "NamePrefix"}}]
    }


def test_a_nested_stacks_conditions_are_inlined_under_its_name_with_the_values_its_parent_passes() -> None:
    nested = {
        "Parameters": {"Kind": {"Type": "String", "Default": "all"}},
        "Conditions": {"Every": {"Fn::Equals": [{"Ref": "Kind"}, "all"]}},
        "Resources": {
            "Loud": {"Type": "AWS::SQS::Queue", "Condition": "Every", "Properties": {}},
            "Quiet": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"DelaySeconds": {"Fn::If": ["Every", 0, 5]}},
            },
        },
    }
    parent = {
        "Conditions": {"Other": {"Fn::Equals": ["a", "a"]}},
        "Resources": {
            "Health": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {"TemplateURL": "n.yaml", "Parameters": {"Kind": {"Ref": "HealthAlarms"}}},
            }
        },
    }

    flat = inline_nested_stacks(parent, lambda url: nested)

    assert flat["Conditions"] == {
        "Other": {"Fn::Equals": ["a", "a"]},
        "HealthEvery": {"Fn::Equals": [{"Ref": "HealthAlarms"}, "all"]},
    }
    assert flat["Resources"]["HealthLoud"]["Condition"] == "HealthEvery"
    assert flat["Resources"]["HealthQuiet"]["Properties"] == {"DelaySeconds": {"Fn::If": ["HealthEvery", 0, 5]}}


def test_the_same_code_zips_to_the_same_bytes_whenever_it_was_built(tmp_path: Path) -> None:
    # Given the same files written twice, at different times and with different permissions
    first, second = tmp_path / "a", tmp_path / "b"
    for directory, mode in ((first, 0o600), (second, 0o644)):
        (directory / "steward" / "handlers").mkdir(parents=True)
        for relative, text in (("steward/__init__.py", ""), ("steward/handlers/x.py", "print(1)\n")):
            (directory / relative).write_text(text)
            (directory / relative).chmod(mode)
    os.utime(second / "steward" / "__init__.py", (0, 0))

    # When each is zipped
    # Then the bytes (so the object key) are the same, and Lambda may read every file
    assert zip_directory(first) == zip_directory(second)
    import zipfile
    from io import BytesIO

    with zipfile.ZipFile(BytesIO(zip_directory(first))) as archive:
        assert [info.filename for info in archive.infolist()] == ["steward/__init__.py", "steward/handlers/x.py"]
        assert {info.external_attr >> 16 for info in archive.infolist()} == {0o100644}
