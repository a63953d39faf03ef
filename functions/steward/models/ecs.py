"""ECS events: task state changes (Spot interruptions), service actions (placement failures), deployments."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from steward.models.base import Arn, EventBridgeEnvelope, Model, NonEmpty


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

    @property
    def status(self) -> str:
        """IN_PROGRESS, COMPLETED or FAILED."""
        return self.event_name.removeprefix("SERVICE_DEPLOYMENT_")


class DeploymentStateChange(EventBridgeEnvelope):
    source: Literal["aws.ecs"]
    detail_type: Literal["ECS Deployment State Change"] = Field(alias="detail-type")
    detail: DeploymentStateChangeDetail

    @property
    def service_arn(self) -> str:
        return _service_arn(self.resources)

    @property
    def cluster_and_service(self) -> tuple[str, str]:
        """New-style service ARNs carry the cluster (service/CLUSTER/NAME); old-style ones (service/NAME) mean the
        default cluster."""
        path = self.service_arn.split(":", 5)[-1].removeprefix("service/")
        cluster, _, name = path.rpartition("/")
        return cluster or "default", name

    @model_validator(mode="after")
    def _names_a_service(self) -> DeploymentStateChange:
        _service_arn(self.resources)  # the event carries only this to say which service deployed
        return self


def _service_arn(resources: list[str]) -> str:
    for resource in resources:
        if re.match(r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:service/.+", resource):
            return resource
    raise ValueError("resources holds no ECS service ARN")
