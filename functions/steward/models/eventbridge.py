"""The envelope every EventBridge event shares (an AWS service's event, not a schedule's payload)."""

import re
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from steward.models.base import TOLERANT, NonEmpty


class EventBridgeEnvelope(BaseModel):
    model_config = TOLERANT

    id: NonEmpty
    source: NonEmpty
    detail_type: NonEmpty = Field(alias="detail-type")
    account: Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
    time: AwareDatetime
    region: NonEmpty
    resources: list[str] = Field(default_factory=list)


def service_arn_in(resources: list[str]) -> str:
    """The ECS service ARN among an event's resources; ECS service events name their service only there."""
    for resource in resources:
        if re.match(r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:service/.+", resource):
            return resource
    raise ValueError("resources holds no ECS service ARN")
