"""Each function's configuration: a frozen pydantic model built once, on the first invocation, from the environment.

A bad value fails the first invocation with one message that names every offending variable, so a broken
deployment is loud at once instead of half-working.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator


class SettingsError(RuntimeError):
    """The function's environment is misconfigured; the message lists each bad variable."""


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown IANA timezone {name!r}") from error
    return name


def _slack_channel(value: str) -> str:
    if value and value[0] not in "CGD":
        raise ValueError("must be a Slack channel ID such as C0123456789, not a channel name")
    return value


TimezoneName = Annotated[str, AfterValidator(_timezone)]
SlackChannelId = Annotated[str, AfterValidator(_slack_channel)]


class Settings(BaseModel):
    """What every function needs. Field aliases are the environment variable names set in template.yaml."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore", defer_build=True)

    environment: Literal["dev", "staging", "prod"] = Field(alias="STEWARD_ENVIRONMENT")
    dry_run: bool = Field(default=False, alias="DRY_RUN")
    state_table: str = Field(alias="STATE_TABLE", min_length=3)
    slack_token_secret_arn: str = Field(default="", alias="SLACK_TOKEN_SECRET_ARN")
    slack_channel: SlackChannelId = Field(default="", alias="SLACK_CHANNEL")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")
    aws_region: str = Field(alias="AWS_REGION", min_length=1)
    health_alarm_prefix: str = Field(default="", alias="HEALTH_ALARM_PREFIX")  # Steward's own alarms start so

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_ends_with_slash(cls, value: str) -> str:
        if not value.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("must be https://… (plain http only for a local stand-in on 127.0.0.1)")
        return value if value.endswith("/") else value + "/"

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_token_secret_arn and self.slack_channel)


class OffHoursSettings(Settings):
    schedules_parameter: str = Field(alias="SCHEDULES_PARAMETER", min_length=1)
    max_concurrency: int = Field(default=8, alias="MAX_CONCURRENCY", ge=1, le=32)
    # ECS UpdateService and Auto Scaling writes per second; keep under the account's sustained API quota.
    writes_per_second: float = Field(default=10.0, alias="WRITES_PER_SECOND", gt=0, le=100)


class SpotFallbackSettings(Settings):
    stable_minutes: int = Field(default=45, alias="SPOT_STABLE_MINUTES", ge=5, le=24 * 60)


class DeployRollbackSettings(Settings):
    window_minutes: int = Field(default=60, alias="ROLLBACK_WINDOW_MINUTES", ge=1, le=24 * 60)
    cooldown_minutes: int = Field(default=30, alias="ROLLBACK_COOLDOWN_MINUTES", ge=0, le=24 * 60)
    deploy_notifications: bool = Field(default=True, alias="DEPLOY_NOTIFICATIONS")


class BudgetAction(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    action: Literal["stop", "alert"]
    selector: dict[str, str] = Field(default_factory=dict)


class BudgetAlertSettings(Settings):
    cost_tag_key: str = Field(default="service", alias="COST_TAG_KEY", min_length=1)
    budget_actions: dict[str, BudgetAction] = Field(default_factory=dict, alias="BUDGET_ACTIONS")
    anomaly_multiple: int = Field(default=10, alias="BUDGET_ANOMALY_MULTIPLE", ge=2, le=1000)

    @field_validator("budget_actions", mode="before")
    @classmethod
    def _json_document(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value or "{}")
            except json.JSONDecodeError as error:
                raise ValueError(f"must be a JSON object of budget name to action: {error.msg}") from error
        return value


class CostReportSettings(Settings):
    cost_tag_key: str = Field(default="service", alias="COST_TAG_KEY", min_length=1)
    cost_metric: Literal["UnblendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost", "BlendedCost"] = (
        Field(default="UnblendedCost", alias="COST_METRIC")
    )
    report_timezone: TimezoneName = Field(default="UTC", alias="REPORT_TIMEZONE")
    top_services: int = Field(default=10, alias="DIGEST_TOP_SERVICES", ge=3, le=30)


def settings_from[SettingsT: Settings](model: type[SettingsT], environ: Mapping[str, str]) -> SettingsT:
    """Build settings from a mapping; raise SettingsError naming each bad variable."""
    try:
        return model.model_validate(dict(environ))
    except ValidationError as error:
        problems = []
        for issue in error.errors():
            field = issue["loc"][0] if issue["loc"] else "?"
            alias = model.model_fields[str(field)].alias if str(field) in model.model_fields else field
            problems.append(f"{alias}: {issue['msg']}")
        raise SettingsError(f"{model.__name__} is misconfigured: " + "; ".join(problems)) from None


@cache
def load_settings[SettingsT: Settings](model: type[SettingsT]) -> SettingsT:
    """The function's settings, read from the environment once per container."""
    return settings_from(model, os.environ)
