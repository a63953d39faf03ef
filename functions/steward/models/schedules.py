"""The payload the daily digest's schedule sends, read by the account digest and the organisation digest.

The off-hours and Spot shift-back ticks live with the other events their functions read (models/off_hours.py,
models/ecs.py): one module per tick model would cost a cold start more than it saves, and one module for all three
would build all three in every function.
"""

from typing import Literal

from pydantic import AwareDatetime, BaseModel

from steward.models.base import TOLERANT, FromScheduler


class CostDigestTick(BaseModel):
    """The daily digest's tick: `now` is the scheduled time."""

    model_config = TOLERANT

    source: FromScheduler
    task: Literal["cost-digest"]
    now: AwareDatetime
