"""EC2 Spot instance interruption warnings."""

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from steward.models.base import TOLERANT, NonEmpty
from steward.models.eventbridge import EventBridgeEnvelope


class SpotInterruptionDetail(BaseModel):
    model_config = TOLERANT

    instance_id: Annotated[str, StringConstraints(pattern=r"^i-[0-9a-f]{8,17}$")] = Field(alias="instance-id")
    instance_action: NonEmpty = Field(alias="instance-action")


class SpotInterruptionWarning(EventBridgeEnvelope):
    source: Literal["aws.ec2"]
    detail_type: Literal["EC2 Spot Instance Interruption Warning"] = Field(alias="detail-type")
    detail: SpotInterruptionDetail
