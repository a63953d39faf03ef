"""Each function's configuration: a frozen pydantic model built once, on the first invocation, from the environment.

What every function shares lives here; each function's own settings live in the module named after it, so a cold
start builds only its own function's models.

A bad value fails the first invocation with one message that names every offending variable, so a broken
deployment is loud at once instead of half-working.
"""

import os
import re
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from steward.domain.scope import Scope


class SettingsError(RuntimeError):
    """The function's environment is misconfigured; the message lists each bad variable."""


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown IANA timezone {name!r}") from error
    return name


def _cluster_names(value: str) -> str:
    names = [name.strip() for name in value.split(",")]
    if value.strip() and not all(_CLUSTER_NAME.fullmatch(name) for name in names):
        raise ValueError("must be cluster names separated by commas, e.g. pyairtable-dev,batch-dev (or empty for all)")
    return ",".join(name for name in names if name)


# ECS cluster names: up to 255 letters, numbers, hyphens and underscores (ECS API Reference, CreateCluster).
_CLUSTER_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")


def _slack_channel(value: str) -> str:
    if value and value[0] not in "CGD":
        raise ValueError("must be a Slack channel ID such as C0123456789, not a channel name")
    return value


ClusterNames = Annotated[str, AfterValidator(_cluster_names)]
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
    account_id: str = Field(default="", alias="ACCOUNT_ID")  # the stack's account (template: AWS::AccountId), for Slack
    health_alarm_prefix: str = Field(default="", alias="HEALTH_ALARM_PREFIX")  # Steward's own alarms start so
    pause_parameter: str = Field(default="", alias="PAUSE_PARAMETER")  # the pause switch (empty: none)
    scope_clusters: ClusterNames = Field(default="", alias="SCOPE_CLUSTERS")  # empty: every cluster in the region
    account_wide: bool = Field(default=True, alias="ACCOUNT_WIDE")  # this stack posts the account's digest

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_ends_with_slash(cls, value: str) -> str:
        if not value.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("must be https://… (plain http only for a local stand-in on 127.0.0.1)")
        return value if value.endswith("/") else value + "/"

    @property
    def scope(self) -> Scope:
        """The services this stack acts on: its environment, in the clusters it names."""
        return Scope.of(self.environment, self.scope_clusters.split(","))

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_token_secret_arn and self.slack_channel)


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
