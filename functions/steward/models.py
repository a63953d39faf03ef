"""The events Steward accepts, as pydantic models: unknown fields are tolerated, missing needed ones are rejected.

Shapes follow the AWS documentation for each event (EventBridge envelopes from aws.ecs, aws.ec2, aws.cloudwatch;
the SNS record AWS Budgets publishes; the payload our EventBridge Scheduler schedules send).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Arn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$", max_length=2048)]


class Model(BaseModel):
    # Validators are built on first use: a handler pays only for the models it parses.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)


class EventBridgeEnvelope(Model):
    id: NonEmpty
    source: NonEmpty
    detail_type: NonEmpty = Field(alias="detail-type")
    account: Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
    time: AwareDatetime
    region: NonEmpty
    resources: list[str] = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------- ECS


class TaskStateChangeDetail(Model):
    cluster_arn: Arn = Field(alias="clusterArn")
    task_arn: Arn = Field(alias="taskArn")
    group: str = ""
    capacity_provider_name: str = Field(default="", alias="capacityProviderName")
    last_status: NonEmpty = Field(alias="lastStatus")
    desired_status: NonEmpty = Field(alias="desiredStatus")
    stop_code: str = Field(default="", alias="stopCode")
    stopped_reason: str = Field(default="", alias="stoppedReason")
    version: int = Field(ge=0)
    task_definition_arn: str = Field(default="", alias="taskDefinitionArn")
    started_by: str = Field(default="", alias="startedBy")

    @property
    def service_name(self) -> str | None:
        """Tasks a service starts carry `group: service:NAME`; standalone tasks do not."""
        return self.group.removeprefix("service:") if self.group.startswith("service:") else None


class TaskStateChange(EventBridgeEnvelope):
    source: Literal["aws.ecs"]
    detail_type: Literal["ECS Task State Change"] = Field(alias="detail-type")
    detail: TaskStateChangeDetail


class ServiceActionDetail(Model):
    event_type: NonEmpty = Field(alias="eventType")
    event_name: NonEmpty = Field(alias="eventName")
    cluster_arn: Arn = Field(alias="clusterArn")
    capacity_provider_arns: list[str] = Field(default_factory=list, alias="capacityProviderArns")
    reason: str = ""
    created_at: AwareDatetime | None = Field(default=None, alias="createdAt")


class ServiceAction(EventBridgeEnvelope):
    source: Literal["aws.ecs"]
    detail_type: Literal["ECS Service Action"] = Field(alias="detail-type")
    detail: ServiceActionDetail

    @property
    def service_arn(self) -> str:
        return _service_arn(self.resources)


class DeploymentStateChangeDetail(Model):
    event_type: NonEmpty = Field(alias="eventType")
    event_name: Literal[
        "SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED", "SERVICE_DEPLOYMENT_FAILED"
    ] = Field(alias="eventName")
    deployment_id: NonEmpty = Field(alias="deploymentId")
    updated_at: AwareDatetime = Field(alias="updatedAt")
    reason: str = ""


class DeploymentStateChange(EventBridgeEnvelope):
    source: Literal["aws.ecs"]
    detail_type: Literal["ECS Deployment State Change"] = Field(alias="detail-type")
    detail: DeploymentStateChangeDetail

    @property
    def service_arn(self) -> str:
        return _service_arn(self.resources)

    @model_validator(mode="after")
    def _names_a_service(self) -> DeploymentStateChange:
        _service_arn(self.resources)  # the event carries only this to say which service deployed
        return self


def _service_arn(resources: list[str]) -> str:
    for resource in resources:
        if re.match(r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:service/.+", resource):
            return resource
    raise ValueError("resources holds no ECS service ARN")


# ---------------------------------------------------------------------------------------------- EC2


class SpotInterruptionDetail(Model):
    instance_id: Annotated[str, StringConstraints(pattern=r"^i-[0-9a-f]{8,17}$")] = Field(alias="instance-id")
    instance_action: NonEmpty = Field(alias="instance-action")


class SpotInterruptionWarning(EventBridgeEnvelope):
    source: Literal["aws.ec2"]
    detail_type: Literal["EC2 Spot Instance Interruption Warning"] = Field(alias="detail-type")
    detail: SpotInterruptionDetail


# ---------------------------------------------------------------------------------------------- CloudWatch


class AlarmState(Model):
    value: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
    reason: str = ""
    timestamp: AwareDatetime


class MetricIdentity(Model):
    namespace: str = ""
    name: str = ""
    dimensions: dict[str, str] = Field(default_factory=dict)


class MetricStat(Model):
    metric: MetricIdentity


class AlarmMetric(Model):
    id: str = ""
    metric_stat: MetricStat | None = Field(default=None, alias="metricStat")
    expression: str = ""


class AlarmConfiguration(Model):
    description: str = ""
    metrics: list[AlarmMetric] = Field(default_factory=list)
    alarm_rule: str = Field(default="", alias="alarmRule")  # composite alarms


class AlarmStateChangeDetail(Model):
    alarm_name: NonEmpty = Field(alias="alarmName")
    state: AlarmState
    previous_state: AlarmState | None = Field(default=None, alias="previousState")
    configuration: AlarmConfiguration = Field(default_factory=AlarmConfiguration)


class AlarmStateChange(EventBridgeEnvelope):
    source: Literal["aws.cloudwatch"]
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    detail: AlarmStateChangeDetail

    @property
    def alarm_arn(self) -> str:
        for resource in self.resources:
            if ":cloudwatch:" in resource and ":alarm:" in resource:
                return resource
        return f"arn:aws:cloudwatch:{self.region}:{self.account}:alarm:{self.detail.alarm_name}"

    @property
    def dimensions(self) -> dict[str, str]:
        """The dimensions of the alarm's single metric, when it watches exactly one."""
        stats = [m.metric_stat for m in self.detail.configuration.metrics if m.metric_stat]
        return dict(stats[0].metric.dimensions) if len(stats) == 1 else {}


# ---------------------------------------------------------------------------------------------- schedules


class ScheduleTick(Model):
    """The payload every Steward schedule sends: `now` is the scheduled time (`<aws.scheduler.scheduled-time>`)."""

    source: Literal["steward.scheduler"]
    task: str
    now: AwareDatetime


class OffHoursTick(ScheduleTick):
    task: Literal["off-hours-tick"]


class SpotShiftBackTick(ScheduleTick):
    task: Literal["spot-shift-back"]


class CostDigestTick(ScheduleTick):
    task: Literal["cost-digest"]


# ---------------------------------------------------------------------------------------------- SNS / Budgets


class SnsMessage(Model):
    message_id: NonEmpty = Field(alias="MessageId")
    topic_arn: str = Field(default="", alias="TopicArn")
    subject: str | None = Field(default=None, alias="Subject")
    message: Annotated[str, StringConstraints(min_length=1, max_length=262_144)] = Field(alias="Message")
    timestamp: AwareDatetime = Field(alias="Timestamp")


class SnsRecord(Model):
    event_source: Literal["aws:sns"] = Field(alias="EventSource")
    sns: SnsMessage = Field(alias="Sns")


class SnsEvent(Model):
    records: Annotated[list[SnsRecord], Field(min_length=1, max_length=10)] = Field(alias="Records")


AMOUNT = re.compile(r"(?P<number>-?[0-9][0-9,]*(?:\.[0-9]+)?)")


def parse_amount(text: str) -> tuple[Decimal, str]:
    """'$1,234.50' → (Decimal('1234.50'), '$'); '€ 90' → (90, '€'); 'USD 12' → (12, 'USD')."""
    match = AMOUNT.search(text)
    if not match:
        raise ValueError(f"no amount in {text!r}")
    try:
        number = Decimal(match.group("number").replace(",", ""))
    except InvalidOperation as error:
        raise ValueError(f"unreadable amount {text!r}") from error
    unit = (text[: match.start()] + text[match.end() :]).replace(">", "").replace("=", "").strip()
    return number, unit


class BudgetNotification(Model):
    """An AWS Budgets alert, read from the `Key: Value` lines of its plain-text body."""

    account_id: str = ""
    budget_name: NonEmpty
    budget_type: NonEmpty
    budgeted_amount: Decimal
    currency: str
    alert_type: Literal["ACTUAL", "FORECASTED"]
    threshold_amount: Decimal
    reported_amount: Decimal
    period_text: str = ""

    @property
    def threshold_percent(self) -> Decimal:
        if self.budgeted_amount <= 0:
            return Decimal(0)
        return (self.threshold_amount / self.budgeted_amount * 100).quantize(Decimal("0.1"))

    @classmethod
    def from_text(cls, text: str) -> BudgetNotification:
        fields: dict[str, str] = {}
        for line in text.splitlines():
            key, separator, value = line.partition(":")
            if separator and key.strip() and len(key) < 40:
                fields.setdefault(key.strip().lower(), value.strip())
        required = ("budget name", "budget type", "budgeted amount", "alert type", "alert threshold")
        missing = [name for name in required if name not in fields]
        if missing:
            raise ValueError("not a budget notification: missing " + ", ".join(repr(m.title()) for m in missing))
        alert_type = fields["alert type"].upper()
        amount_line = fields.get(f"{alert_type.lower()} amount")
        if amount_line is None:
            raise ValueError(f"budget notification lacks the '{alert_type} Amount' line")
        budgeted, currency = parse_amount(fields["budgeted amount"])
        threshold, _ = parse_amount(fields["alert threshold"])
        reported, _ = parse_amount(amount_line)
        account = re.search(r"AWS Account (\d{12})", text)
        period = re.search(r"for the current (\w+)", text)
        return cls(
            account_id=account.group(1) if account else "",
            budget_name=fields["budget name"],
            budget_type=fields["budget type"],
            budgeted_amount=budgeted,
            currency=currency or "USD",
            alert_type=alert_type,
            threshold_amount=threshold,
            reported_amount=reported,
            period_text=period.group(1) if period else "",
        )


def is_budget_json_message(text: str) -> bool:
    """Budgets also publishes JSON messages (e.g. auto-adjusted budget amounts) that are not alerts."""
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return False
    return isinstance(document, dict)


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad field, for the structured rejection log."""
    parts = []
    for issue in error.errors()[:5]:
        location = ".".join(str(part) for part in issue["loc"]) or "event"
        parts.append(f"{location}: {issue['msg']}")
    more = error.error_count() - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
