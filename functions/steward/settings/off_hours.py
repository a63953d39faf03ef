"""The off-hours function's settings (environment variables set in template.yaml)."""

from pydantic import Field

from steward.settings import Settings


class OffHoursSettings(Settings):
    schedules_parameter: str = Field(alias="SCHEDULES_PARAMETER", min_length=1)
    max_concurrency: int = Field(default=8, alias="MAX_CONCURRENCY", ge=1, le=32)
    # ECS UpdateService and Auto Scaling writes per second; keep under the account's sustained API quota.
    writes_per_second: float = Field(default=10.0, alias="WRITES_PER_SECOND", gt=0, le=100)
