"""The budget alert function's settings (environment variables set in template.yaml)."""

import json
from typing import Annotated, Any, Literal

from msgspec import Struct
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from steward.settings import Settings


class BudgetAction(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    action: Literal["stop", "alert"]
    selector: dict[str, str] = Field(default_factory=dict)  # tag key → value; a service must carry every pair


class RefusedBudgetAction(Struct, frozen=True):
    """A configured action Steward will not run, and why: its budget alerts as ever, each alert saying so."""

    action: str
    selector: dict[str, str]
    reason: str  # what is wrong and how to fix the BudgetActions parameter


def refusal(name: str, action: BudgetAction) -> str | None:
    """Why Steward will not run this action, or None. Only a stop needs a selector: it decides what stops."""
    if action.action != "stop":
        return None
    example = json.dumps({name: {"action": "stop", "selector": {"env": "dev"}}})
    fix = f"give it a selector in the BudgetActions parameter, e.g. {example}, and redeploy"
    if not action.selector:
        everything = "so it would stop every unprotected service in the account"
        return f"the stop action is refused: it has no selector, {everything}; {fix}"
    if "" in action.selector:
        # ECS tag keys are 1 to 128 characters (Amazon ECS API Reference, Tag): no service carries an empty one.
        return f"the stop action is refused: its selector has an empty tag key, which no service can carry; {fix}"
    return None


def _kind(value: Any) -> str:
    return "refused" if isinstance(value, RefusedBudgetAction) else "configured"


# What the team wrote is always read as a BudgetAction (its errors name no other type); a refused one is made here.
ConfiguredAction = Annotated[
    Annotated[BudgetAction, Tag("configured")] | Annotated[RefusedBudgetAction, Tag("refused")], Discriminator(_kind)
]


class BudgetAlertSettings(Settings):
    model_config = ConfigDict(arbitrary_types_allowed=True)  # a refused action is a Struct, never read from JSON

    cost_tag_key: str = Field(default="service", alias="COST_TAG_KEY", min_length=1)
    budget_actions: dict[str, ConfiguredAction] = Field(default_factory=dict, alias="BUDGET_ACTIONS")
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

    @field_validator("budget_actions")
    @classmethod
    def _refuse_unsafe_actions(
        cls, actions: dict[str, BudgetAction | RefusedBudgetAction]
    ) -> dict[str, BudgetAction | RefusedBudgetAction]:
        """One unsafe action is refused on its own: the function still starts, and every budget still alerts."""
        checked: dict[str, BudgetAction | RefusedBudgetAction] = {}
        for name, action in actions.items():
            reason = refusal(name, action) if isinstance(action, BudgetAction) else None
            checked[name] = RefusedBudgetAction(action.action, dict(action.selector), reason) if reason else action
        return checked

    @property
    def refused_actions(self) -> dict[str, str]:
        """Budget name → why its action is refused."""
        return {name: a.reason for name, a in self.budget_actions.items() if isinstance(a, RefusedBudgetAction)}
