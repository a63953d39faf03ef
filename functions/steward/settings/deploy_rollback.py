"""The deploy rollback function's settings (environment variables set in template.yaml)."""

from pydantic import Field

from steward.settings import Settings


class DeployRollbackSettings(Settings):
    window_minutes: int = Field(default=60, alias="ROLLBACK_WINDOW_MINUTES", ge=1, le=24 * 60)
    cooldown_minutes: int = Field(default=30, alias="ROLLBACK_COOLDOWN_MINUTES", ge=0, le=24 * 60)
    deploy_notifications: bool = Field(default=True, alias="DEPLOY_NOTIFICATIONS")
