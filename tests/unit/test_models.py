"""Event models read the documented AWS shapes from events/ and refuse what lacks the fields Steward needs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from steward.models.budgets import (
    BudgetAutoAdjustment,
    BudgetNotification,
    SnsEvent,
    UnreadableBudgetMessage,
    is_budget_auto_adjustment,
    parse_amount,
)
from steward.models.cloudwatch import AlarmStateChange
from steward.models.ec2 import SpotInterruptionWarning
from steward.models.ecs import ServiceAction, TaskStateChange
from steward.models.ecs_deployments import DeploymentStateChange
from tests.conftest import load_event


# The published sample carries stopCode SpotInterruption; TerminationNotice is the other documented Spot stop code
# (ECS API reference, Task.stopCode), and stopCode is optional in the Task shape. No public capture shows either
# variant, so they are derived here rather than kept as samples under events/.
@pytest.mark.parametrize("stop_code", ["SpotInterruption", "TerminationNotice", None])
def test_fargate_spot_task_stops_name_their_service(stop_code: str | None) -> None:
    raw = load_event("spot_fallback/FargateSpotTaskStopped--spot-interruption.json")
    if stop_code is None:
        del raw["detail"]["stopCode"]
    else:
        raw["detail"]["stopCode"] = stop_code
    event = TaskStateChange.model_validate(raw)
    assert event.detail.service_name == "llm-orchestrator"
    assert event.detail.capacity_provider_name == "FARGATE_SPOT"
    assert event.detail.stopped_reason.startswith("Your Spot Task was interrupted")


def test_service_action_and_spot_warning_and_deployment_events_parse() -> None:
    action = ServiceAction.model_validate(load_event("spot_fallback/PlacementFailed--fargate-spot.json"))
    assert action.service_arn.endswith("service/pyairtable-dev/llm-orchestrator")
    assert action.detail.reason == "RESOURCE:FARGATE"
    warning = SpotInterruptionWarning.model_validate(load_event("spot_fallback/Ec2SpotWarning--instance.json"))
    assert warning.detail.instance_id == "i-0b662ef9931388ba0"
    deployment = DeploymentStateChange.model_validate(load_event("deploy_rollback/DeploymentChanged--in-progress.json"))
    assert deployment.detail.deployment_id == "ecs-svc/8471625520394411"


def test_alarm_timestamps_with_plus_0000_offsets_parse_as_utc() -> None:
    alarm = AlarmStateChange.model_validate(load_event("deploy_rollback/AlarmFired--service-metric.json"))
    assert alarm.detail.state.timestamp.utcoffset().total_seconds() == 0
    assert alarm.detail.state.timestamp.microsecond == 331000
    assert alarm.dimensions == {"ClusterName": "pyairtable-dev", "ServiceName": "api-gateway"}
    assert alarm.alarm_arn.endswith(":alarm:api-gateway-5xx")


def test_a_deployment_event_without_a_service_arn_is_refused() -> None:
    event = load_event("deploy_rollback/DeploymentChanged--completed.json")
    event["resources"] = ["arn:aws:ecs:eu-central-1:111122223333:cluster/pyairtable-dev"]
    with pytest.raises(ValidationError, match="no ECS service ARN"):
        DeploymentStateChange.model_validate(event)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$1,234.50", (Decimal("1234.50"), "$")),
        ("> $400.00", (Decimal("400.00"), "$")),
        ("€ 90", (Decimal("90"), "€")),
        ("USD 12.5", (Decimal("12.5"), "USD")),
        ("$183,965,812,157.54", (Decimal("183965812157.54"), "$")),
    ],
)
def test_amounts_keep_their_unit_and_lose_their_separators(text: str, expected: tuple[Decimal, str]) -> None:
    assert parse_amount(text) == expected


def budget_message(sample: str) -> str:
    text: str = load_event(f"budget_alert/BudgetNotification--{sample}.json")["Records"][0]["Sns"]["Message"]
    return text


def test_the_monthly_budget_notification_is_read_from_its_key_value_lines() -> None:
    notification = BudgetNotification.from_text(budget_message("monthly-actual-80"))
    assert notification.budget_name == "dev-monthly"
    assert notification.alert_type == "ACTUAL"
    assert notification.budgeted_amount == Decimal("500.00")
    assert notification.threshold_amount == Decimal("400.00")
    assert notification.threshold_percent == Decimal("80.0")
    assert notification.reported_amount == Decimal("412.37")
    assert notification.currency == "$"
    assert notification.account_id == "111122223333"
    assert notification.time_unit == "MONTHLY"


def test_the_daily_wording_reads_as_a_daily_budget_and_the_forecast_as_monthly() -> None:
    daily = BudgetNotification.from_text(budget_message("daily-actual"))
    assert (daily.budget_name, daily.time_unit, daily.threshold_percent) == ("dev-daily", "DAILY", Decimal("80.0"))
    assert daily.reported_amount == Decimal("17.25")
    forecast = BudgetNotification.from_text(budget_message("forecasted-100-anomaly"))
    assert (forecast.alert_type, forecast.time_unit) == ("FORECASTED", "MONTHLY")
    assert forecast.reported_amount == Decimal("183965812157.54")


def test_a_notification_without_a_period_phrase_Steward_knows_has_no_time_unit() -> None:
    text = budget_message("monthly-actual-80").replace(" for the current month.", ".")

    notification = BudgetNotification.from_text(text)

    assert notification.time_unit is None
    assert notification.period_wording.startswith("You requested that we alert you")


def test_only_the_auto_adjustment_shape_is_a_known_json_budget_message() -> None:
    message = budget_message("auto-adjustment-json")
    assert is_budget_auto_adjustment(message)
    with pytest.raises(ValueError, match="not a budget notification"):
        BudgetNotification.from_text(message)
    for other in ('{"foo": "bar"}', '{"previousBudgetLimit": "1"}', "[1, 2]", "not json", '"text"'):
        assert not is_budget_auto_adjustment(other)


@pytest.mark.parametrize(
    ("sample", "kind"),
    [
        ("monthly-actual-80", BudgetNotification),
        ("daily-actual", BudgetNotification),
        ("forecasted-100-anomaly", BudgetNotification),
        ("auto-adjustment-json", BudgetAutoAdjustment),
    ],
)
def test_the_sns_message_is_decoded_into_the_kind_of_budget_message_it_is(sample: str, kind: type) -> None:
    event = SnsEvent.model_validate(load_event(f"budget_alert/BudgetNotification--{sample}.json"))

    assert isinstance(event.records[0].sns.message, kind)


def test_a_body_steward_cannot_read_decodes_as_unreadable_with_its_reason_and_excerpt() -> None:
    raw = load_event("budget_alert/BudgetNotification--monthly-actual-80.json")
    raw["Records"][0]["Sns"]["Message"] = "Budget Name: x\n" + "y" * 1000

    message = SnsEvent.model_validate(raw).records[0].sns.message

    assert isinstance(message, UnreadableBudgetMessage)
    assert message.reason == (
        "not a budget notification: missing 'Budget Type', 'Budgeted Amount', 'Alert Type', 'Alert Threshold'"
    )
    assert message.excerpt.startswith("Budget Name: x") and len(message.excerpt) == 500


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("Budget Name: x\n" * 20_000, "String should have at most 262144 characters"),
        ("", "String should have at least 1 character"),
        (42, "Input should be a valid string"),
    ],
)
def test_a_message_that_is_no_sns_message_is_the_events_error_at_Message(body: object, error: str) -> None:
    raw = load_event("budget_alert/BudgetNotification--monthly-actual-80.json")
    raw["Records"][0]["Sns"]["Message"] = body

    with pytest.raises(ValidationError, match=rf"Records\.0\.Sns\.Message\n  {error}"):
        SnsEvent.model_validate(raw)
