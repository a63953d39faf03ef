"""The payloads Steward's EventBridge Scheduler schedules send."""

from typing import Literal

from pydantic import AwareDatetime

from steward.models.base import Model


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
