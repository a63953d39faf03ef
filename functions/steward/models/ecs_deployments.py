"""ECS deployment state changes, which the rollback reads to know which task definition a service last deployed."""

from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from steward.models.base import TOLERANT, NonEmpty
from steward.models.eventbridge import EventBridgeEnvelope, service_arn_in


class DeploymentStateChangeDetail(BaseModel):
    model_config = TOLERANT

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
        return service_arn_in(self.resources)

    @property
    def cluster_and_service(self) -> tuple[str, str]:
        """New-style service ARNs carry the cluster (service/CLUSTER/NAME); old-style ones (service/NAME) mean the
        default cluster."""
        path = self.service_arn.split(":", 5)[-1].removeprefix("service/")
        cluster, _, name = path.rpartition("/")
        return cluster or "default", name

    @model_validator(mode="after")
    def _names_a_service(self) -> Self:
        service_arn_in(self.resources)  # the event carries only this to say which service deployed
        return self
