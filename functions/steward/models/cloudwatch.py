"""CloudWatch alarm state changes."""

from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from steward.models.base import TOLERANT, NonEmpty
from steward.models.eventbridge import EventBridgeEnvelope


class AlarmState(BaseModel):
    model_config = TOLERANT

    value: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
    reason: str = ""
    timestamp: AwareDatetime


class MetricIdentity(BaseModel):
    model_config = TOLERANT

    namespace: str = ""
    name: str = ""
    dimensions: dict[str, str] = Field(default_factory=dict)


class MetricStat(BaseModel):
    model_config = TOLERANT

    metric: MetricIdentity


class AlarmMetric(BaseModel):
    model_config = TOLERANT

    id: str = ""
    metric_stat: MetricStat | None = Field(default=None, alias="metricStat")
    expression: str = ""


class AlarmConfiguration(BaseModel):
    model_config = TOLERANT

    description: str = ""
    metrics: list[AlarmMetric] = Field(default_factory=list)
    alarm_rule: str = Field(default="", alias="alarmRule")  # composite alarms


class AlarmStateChangeDetail(BaseModel):
    model_config = TOLERANT

    alarm_name: NonEmpty = Field(alias="alarmName")
    state: AlarmState
    previous_state: AlarmState | None = Field(default=None, alias="previousState")
    configuration: AlarmConfiguration = Field(default_factory=AlarmConfiguration)

    @property
    def previous_value(self) -> str:
        return self.previous_state.value if self.previous_state else "OK"

    @property
    def went_into_alarm(self) -> bool:
        return self.state.value == "ALARM" and self.previous_value != "ALARM"


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
