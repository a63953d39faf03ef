"""ECS events the Spot fallback reads: task state changes (Spot interruptions), service actions (placement failures);
and its shift-back schedule's tick.

Deployment state changes, which only the rollback reads, are in models/ecs_deployments.py."""

from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from steward.models.base import TOLERANT, Arn, FromScheduler, NonEmpty
from steward.models.eventbridge import EventBridgeEnvelope, service_arn_in


class TaskStateChangeDetail(BaseModel):
    model_config = TOLERANT

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


class ServiceActionDetail(BaseModel):
    model_config = TOLERANT

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
        return service_arn_in(self.resources)


class SpotShiftBackTick(BaseModel):
    """The shift-back schedule's tick: `now` is the scheduled time."""

    model_config = TOLERANT

    source: FromScheduler
    task: Literal["spot-shift-back"]
    now: AwareDatetime
