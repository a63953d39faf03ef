"""The cost digest function's settings (environment variables set in template.yaml)."""

from typing import Literal

from pydantic import Field

from steward.settings import Settings, TimezoneName


class CostReportSettings(Settings):
    cost_tag_key: str = Field(default="service", alias="COST_TAG_KEY", min_length=1)
    cost_metric: Literal["UnblendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost", "BlendedCost"] = (
        Field(default="UnblendedCost", alias="COST_METRIC")
    )
    report_timezone: TimezoneName = Field(default="UTC", alias="REPORT_TIMEZONE")
    top_services: int = Field(default=10, alias="DIGEST_TOP_SERVICES", ge=3, le=30)
