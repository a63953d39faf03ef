"""The Spot fallback function's settings (environment variables set in template.yaml)."""

from pydantic import Field

from steward.settings import Settings


class SpotFallbackSettings(Settings):
    stable_minutes: int = Field(default=45, alias="SPOT_STABLE_MINUTES", ge=5, le=24 * 60)
