"""The off-hours function's settings (environment variables set in template.yaml)."""

from pydantic import Field

from steward.settings import Settings


class OffHoursSettings(Settings):
    schedules_parameter: str = Field(alias="SCHEDULES_PARAMETER", min_length=1)
    max_concurrency: int = Field(default=8, alias="MAX_CONCURRENCY", ge=1, le=32)
    # ECS UpdateService and Auto Scaling writes per second; keep under the account's sustained API quota.
    writes_per_second: float = Field(default=10.0, alias="WRITES_PER_SECOND", gt=0, le=100)
    # A heads-up this many minutes before an off edge stops services (0: none).
    heads_up_minutes: int = Field(default=30, alias="HEADS_UP_MINUTES", ge=0, le=240)
    # A restored service running fewer tasks than it should this many minutes after its start is reported.
    come_back_minutes: int = Field(default=15, alias="COME_BACK_MINUTES", ge=5, le=120)
