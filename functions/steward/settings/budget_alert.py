"""The budget alert function's settings (environment variables set in template.yaml)."""

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from steward.settings import Settings


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
