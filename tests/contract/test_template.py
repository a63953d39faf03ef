"""template.yaml against the code: handlers import, rule patterns match exactly their own samples, and every
environment variable a function's settings require is set on that function."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from devtools.iam_check import Statement, World, moto_world, statements
from devtools.template import function_environment, functions, template

from tests.conftest import EVENTS, mocked_aws

# Lambda sets these itself; the template must not.
RUNTIME_PROVIDED = {"AWS_REGION"}

HANDLER_FOLDERS = {
    "OffHoursFunction": "off_hours",
    "SpotFallbackFunction": "spot_fallback",
    "DeployRollbackFunction": "deploy_rollback",
    "BudgetAlertFunction": "budget_alert",
    "CostReportFunction": "cost_report",
    "RestoreOnDeleteFunction": "restore_on_delete",
}


def handler_module(function: str) -> Any:
    module_name, _, attribute = functions()[function]["Properties"]["Handler"].rpartition(".")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute)), f"{function}: {attribute} is not callable"
    return module


@pytest.mark.parametrize("function", sorted(HANDLER_FOLDERS))
def test_every_handler_in_the_template_imports(function: str) -> None:
    handler_module(function)


def test_template_declares_exactly_the_six_functions() -> None:
    assert set(functions()) == set(HANDLER_FOLDERS)


@pytest.mark.parametrize("function", sorted(HANDLER_FOLDERS))
def test_every_required_setting_is_set_on_its_function(function: str) -> None:
    settings_model = handler_module(function).SETTINGS
    environment = function_environment(function)
    required = {f.alias for f in settings_model.model_fields.values() if f.is_required()} - RUNTIME_PROVIDED
    missing = sorted(name for name in required if name not in environment)
    assert not missing, f"{function} lacks environment variables its settings require: {missing}"
    unknown = sorted(
        set(environment)
        - {f.alias for f in settings_model.model_fields.values()}
        - {
            "POWERTOOLS_SERVICE_NAME",
            "POWERTOOLS_METRICS_NAMESPACE",
            "POWERTOOLS_LOG_LEVEL",
            "POWERTOOLS_TRACE_DISABLED",
        }
    )
    assert not unknown, f"{function} sets environment variables nothing reads: {unknown}"


def rules() -> dict[str, dict[str, Any]]:
    """Every EventBridgeRule event source in the template, by its event's logical name."""
    found = {}
    for name, body in functions().items():
        for event_name, event in body["Properties"].get("Events", {}).items():
            if event["Type"] == "EventBridgeRule":
                found[event_name] = {"function": name, "pattern": event["Properties"]["Pattern"]}
    return found


def eventbridge_samples() -> list[Path]:
    samples = []
    for path in sorted(EVENTS.rglob("*.json")):
        if path.parent.name == "malformed":
            continue
        try:
            body = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
        if isinstance(body, dict) and isinstance(body.get("detail"), dict) and isinstance(body.get("source"), str):
            samples.append(path)
    return samples


def owner_rule(sample: Path) -> str | None:
    return sample.stem.split("--")[0] if "--" in sample.stem else None


def test_every_rule_has_samples() -> None:
    owners = {owner_rule(path) for path in eventbridge_samples()}
    assert set(rules()) <= owners, f"rules without a sample in events/: {sorted(set(rules()) - owners)}"


def test_each_rule_matches_its_own_samples_and_no_other_sample() -> None:
    """Each sample is put on a moto event bus whose rules target one SQS queue per rule."""
    with mocked_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        queues = {}
        for rule_name, rule in rules().items():
            queue_url = sqs.create_queue(QueueName=rule_name)["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            events.put_rule(Name=rule_name, EventPattern=json.dumps(rule["pattern"]))
            events.put_targets(Rule=rule_name, Targets=[{"Id": "queue", "Arn": queue_arn}])
            queues[rule_name] = queue_url

        mismatches = []
        for sample in eventbridge_samples():
            body = json.loads(sample.read_text())
            events.put_events(
                Entries=[
                    {
                        "Source": body["source"],
                        "DetailType": body["detail-type"],
                        "Detail": json.dumps(body["detail"]),
                        "Resources": body.get("resources", []),
                    }
                ]
            )
            for rule_name, queue_url in queues.items():
                received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
                for message in received:
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                matched, expected = bool(received), owner_rule(sample) == rule_name
                if matched != expected:
                    relative = sample.relative_to(EVENTS)
                    mismatches.append(f"{rule_name} {'matched' if matched else 'missed'} {relative}")
        assert not mismatches, "\n".join(mismatches)


def test_tracing_is_one_switch_for_lambda_and_powertools() -> None:
    """Tracing=Active turns on Lambda's X-Ray tracing and the Powertools Tracer together; PassThrough neither."""
    stack = template()
    globals_ = stack["Globals"]["Function"]
    assert globals_["Tracing"] == {"Ref": "Tracing"}
    assert stack["Parameters"]["Tracing"]["AllowedValues"] == ["Active", "PassThrough"]
    assert stack["Conditions"]["TracingActive"] == {"Fn::Equals": [{"Ref": "Tracing"}, "Active"]}
    assert globals_["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == {
        "Fn::If": ["TracingActive", "false", "true"]
    }


KEY_ARN = "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def kms_grants(function: str, world: World) -> list[Statement]:
    return [s for s in statements(function, world) if any(a.lower().startswith("kms:") for a in s.actions)]


@pytest.mark.parametrize("function", sorted(HANDLER_FOLDERS))
def test_a_slack_secret_under_a_customer_managed_key_is_decrypted_only_through_secrets_manager(function: str) -> None:
    """Given SlackTokenKmsKeyArn, the function may use that key for kms:Decrypt, and only when Secrets Manager
    calls it on the function's behalf; without the parameter (or without a Slack secret) there is no KMS grant."""
    [grant] = kms_grants(function, moto_world(SlackTokenKmsKeyArn=KEY_ARN))

    assert grant.actions == ("kms:Decrypt",)
    assert grant.resources == (KEY_ARN,)
    assert grant.condition == {"StringEquals": {"kms:ViaService": "secretsmanager.eu-central-1.amazonaws.com"}}
    assert kms_grants(function, moto_world()) == []
    assert kms_grants(function, moto_world(SlackTokenSecretArn="", SlackTokenKmsKeyArn=KEY_ARN)) == []


def test_the_slack_key_parameter_takes_a_key_arn_or_nothing() -> None:
    pattern = template()["Parameters"]["SlackTokenKmsKeyArn"]["AllowedPattern"]

    assert re.fullmatch(pattern, KEY_ARN)
    assert re.fullmatch(pattern, "")
    # kms:Decrypt's resource is the key: an alias ARN would grant nothing.
    assert not re.fullmatch(pattern, "arn:aws:kms:eu-central-1:123456789012:alias/slack")


def health_stack(function: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The function's nested health stack resource, and the template it nests."""
    logical_id = function.removesuffix("Function") + "Health"
    stack = template()["Resources"][logical_id]
    assert stack["Type"] == "AWS::CloudFormation::Stack"
    return stack, template(Path(stack["Properties"]["TemplateURL"]))


@pytest.mark.parametrize("function", sorted(HANDLER_FOLDERS))
def test_each_function_logs_to_the_log_group_the_template_creates(function: str) -> None:
    """Lambda would otherwise create /aws/lambda/<name> on the first invocation, without retention, and a log
    group the stack creates after that collides with it."""
    own = functions()[function]["Properties"]
    stack, nested = health_stack(function)
    group = nested["Resources"]["LogGroup"]

    assert own["LoggingConfig"]["LogGroup"] == {
        "Fn::GetAtt": [f"{function.removesuffix('Function')}Health", "Outputs.LogGroupName"]
    }
    assert nested["Outputs"]["LogGroupName"]["Value"] == {"Ref": "LogGroup"}
    assert stack["Properties"]["Parameters"]["FunctionName"] == own["FunctionName"]
    assert group["Properties"]["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${FunctionName}"}
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert stack["Properties"]["Parameters"]["LogRetentionDays"] == {"Ref": "LogRetentionDays"}


@pytest.mark.parametrize("function", sorted(HANDLER_FOLDERS))
def test_each_functions_health_alarms_reach_slack_as_stewards_own(function: str) -> None:
    """Errors, throttles and dead letters of every function alarm, under the prefix deploy rollback posts as
    "Steward needs attention" instead of treating as a service alarm."""
    stack, nested = health_stack(function)
    alarms = {
        name: body["Properties"]
        for name, body in nested["Resources"].items()
        if body["Type"] == "AWS::CloudWatch::Alarm"
    }

    assert sorted(alarms) == ["DeadLettersAlarm", "ErrorsAlarm", "ThrottlesAlarm"]
    assert stack["Properties"]["Parameters"]["AlarmPrefix"] == function_environment(function)["HEALTH_ALARM_PREFIX"]
    assert stack["Properties"]["Parameters"]["HealthTopicArn"] == {"Ref": "HealthTopic"}
    for alarm in alarms.values():
        assert alarm["AlarmName"]["Fn::Sub"].startswith("${AlarmPrefix}${Label}-")
        assert alarm["AlarmActions"] == [{"Ref": "HealthTopicArn"}]
    assert alarms["ErrorsAlarm"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "FunctionName"}}]


def test_a_failed_off_hours_tick_is_not_retried_but_kept_in_its_dead_letter_queue() -> None:
    """A retried tick would replay its older "now" after a newer tick; the next tick heals a missed one instead."""
    own = functions()["OffHoursFunction"]["Properties"]
    invoke_config = {**template()["Globals"]["Function"]["EventInvokeConfig"], **own.get("EventInvokeConfig", {})}
    _, nested = health_stack("OffHoursFunction")

    assert invoke_config["MaximumRetryAttempts"] == 0
    assert own["DeadLetterQueue"] == {
        "Type": "SQS",
        "TargetArn": {"Fn::GetAtt": ["OffHoursHealth", "Outputs.DeadLetterQueueArn"]},
    }
    assert nested["Resources"]["DeadLetterQueue"]["Type"] == "AWS::SQS::Queue"
    assert own["Events"]["Tick"]["Properties"]["RetryPolicy"] == {"MaximumRetryAttempts": 0}


def test_the_slack_secret_parameter_takes_only_a_full_secret_arn() -> None:
    # IAM grants GetSecretValue on exactly this ARN; a partial ARN (no "-" and six characters) matches no secret.
    pattern = re.compile(template()["Parameters"]["SlackTokenSecretArn"]["AllowedPattern"])
    full = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:steward/slack-AbC123"

    assert pattern.fullmatch(full)
    assert pattern.fullmatch("")
    assert not pattern.fullmatch("arn:aws:secretsmanager:eu-central-1:123456789012:secret:steward/slack")


CONSTRAINTS = ("AllowedPattern", "MinLength", "MaxLength", "MinValue", "MaxValue")


def test_every_constrained_parameter_says_what_form_it_expects() -> None:
    """CloudFormation refuses a value outside a parameter's pattern or range with only its ConstraintDescription
    (or, without one, the bare regular expression): each says the expected form, with an example that fits."""
    unexplained = []
    for name, parameter in template()["Parameters"].items():
        if not any(key in parameter for key in CONSTRAINTS):
            continue
        description = parameter.get("ConstraintDescription", "")
        names_bounds = all(str(parameter[key]) in description for key in CONSTRAINTS[1:] if key in parameter)
        shows_example = True
        if "AllowedPattern" in parameter:
            pattern = parameter["AllowedPattern"].removeprefix("^").removesuffix("$")
            shows_example = any(match.group() for match in re.finditer(pattern, description))
        if not (description and names_bounds and shows_example):
            unexplained.append(name)

    assert not unexplained, (
        f"parameters without a ConstraintDescription naming their form and an example: {unexplained}"
    )
