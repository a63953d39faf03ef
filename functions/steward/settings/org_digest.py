"""The organisation cost digest's settings (environment variables set in org-digest.yaml)."""

from typing import Literal

from pydantic import Field, Json

from steward.settings import Settings, SlackChannelId


class OrgDigestSettings(Settings):
    cost_tag_key: str = Field(default="service", alias="COST_TAG_KEY", min_length=1)
    cost_metric: Literal["UnblendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost", "BlendedCost"] = (
        Field(default="UnblendedCost", alias="COST_METRIC")
    )
    # Cost tag value -> the team's Slack channel ID: member accounts' steward:channel tags are not visible here.
    team_channels: Json[dict[str, SlackChannelId]] = Field(default_factory=dict, alias="TEAM_CHANNELS")
    top_lines: int = Field(default=10, alias="DIGEST_TOP_LINES", ge=3, le=30)
