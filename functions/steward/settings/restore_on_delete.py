"""The restore-on-delete function's settings (environment variables set in template.yaml)."""

from pydantic import Field

from steward.settings import Settings


class RestoreOnDeleteSettings(Settings):
    # ECS UpdateService and Auto Scaling writes per second, as the off-hours function paces them.
    writes_per_second: float = Field(default=10.0, alias="WRITES_PER_SECOND", gt=0, le=100)
