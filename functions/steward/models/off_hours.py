"""The events the off-hours function reads: its schedule's tick, and the RDS events of a database AWS starts after
seven days stopped and of a database started.

An RDS event is known by its `detail.EventID`, never its `Message` (AWS's wording varies by a final period between
the event list and delivered events); the database is named by `detail.SourceArn` (captured instance events carry a
bare `SourceIdentifier`, the documented examples an `rds:`-prefixed one). RDS User Guide, "Amazon RDS event
categories and event messages"; Aurora User Guide, the same page for clusters.
"""

from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from steward.models.base import TOLERANT, FromScheduler
from steward.models.eventbridge import EventBridgeEnvelope

# RDS-EVENT-0154 / RDS-EVENT-0153: "DB instance / DB cluster is being started due to it exceeding the maximum allowed
# time being stopped"; RDS-EVENT-0088 / RDS-EVENT-0151: "DB instance started" / "DB cluster started".
AUTO_STARTING = frozenset({"RDS-EVENT-0154", "RDS-EVENT-0153"})
STARTED = frozenset({"RDS-EVENT-0088", "RDS-EVENT-0151"})


class OffHoursTick(BaseModel):
    """The off-hours schedule's tick: `now` is the scheduled time."""

    model_config = TOLERANT

    source: FromScheduler
    task: Literal["off-hours-tick"]
    now: AwareDatetime


class RdsEventDetail(BaseModel):
    model_config = TOLERANT

    # Only the events the template's rule delivers; any other RDS event is not one this function handles.
    event_id: Literal["RDS-EVENT-0154", "RDS-EVENT-0153", "RDS-EVENT-0088", "RDS-EVENT-0151"] = Field(alias="EventID")
    source_arn: str = Field(alias="SourceArn", pattern=r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:(db|cluster):.+$")
    message: str = Field(default="", alias="Message")


class RdsEvent(EventBridgeEnvelope):
    """An instance event or a cluster event: one model for both (each pydantic class costs a cold start)."""

    source: Literal["aws.rds"]
    detail_type: Literal["RDS DB Instance Event", "RDS DB Cluster Event"] = Field(alias="detail-type")
    detail: RdsEventDetail

    @property
    def database_key(self) -> str:
        """'instance/ID' or 'cluster/ID', as Steward's records name the database."""
        parts = self.detail.source_arn.split(":", 6)
        return f"{'instance' if parts[5] == 'db' else 'cluster'}/{parts[6]}"

    @property
    def auto_starting(self) -> bool:
        return self.detail.event_id in AUTO_STARTING

    @property
    def started(self) -> bool:
        return self.detail.event_id in STARTED
