"""What every event model shares: tolerant parsing, bounded strings, the EventBridge envelope."""

import re
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Arn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$", max_length=2048)]


# Every event model's configuration: fields AWS adds are ignored, and the validator is built on first use, so a handler
# pays only for the models it parses. A config rather than a common base class: each pydantic class costs a cold start.
TOLERANT = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)


# The `source` of every payload Steward's EventBridge Scheduler schedules send; each function's tick model (its `task`
# Literal, and `now`: the scheduled time, `<aws.scheduler.scheduled-time>`) lives with the other events it reads.
FromScheduler = Literal["steward.scheduler"]


class EventBridgeEnvelope(BaseModel):
    model_config = TOLERANT

    id: NonEmpty
    source: NonEmpty
    detail_type: NonEmpty = Field(alias="detail-type")
    account: Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
    time: AwareDatetime
    region: NonEmpty
    resources: list[str] = Field(default_factory=list)


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad field, for the structured rejection log."""
    parts = []
    for issue in error.errors()[:5]:
        location = ".".join(str(part) for part in issue["loc"]) or "event"
        parts.append(f"{location}: {issue['msg']}")
    more = error.error_count() - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def service_arn_in(resources: list[str]) -> str:
    """The ECS service ARN among an event's resources; ECS service events name their service only there."""
    for resource in resources:
        if re.match(r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:service/.+", resource):
            return resource
    raise ValueError("resources holds no ECS service ARN")
