"""BudgetActions: a stop action without a selector is refused on its own, and the function's settings still load."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from steward.domain.budgets import decide_alert, describe_selector
from steward.models.budgets import BudgetNotification
from steward.settings import SettingsError, settings_from
from steward.settings.budget_alert import BudgetAction, BudgetAlertSettings, RefusedBudgetAction

BASE = {"STEWARD_ENVIRONMENT": "dev", "STATE_TABLE": "steward-state", "AWS_REGION": "eu-central-1"}


def settings(actions: dict[str, Any]) -> BudgetAlertSettings:
    return settings_from(BudgetAlertSettings, {**BASE, "BUDGET_ACTIONS": json.dumps(actions)})


@pytest.mark.parametrize(
    "action",
    [{"action": "stop"}, {"action": "stop", "selector": {}}],
    ids=["no selector", "an empty selector"],
)
def test_a_stop_action_without_a_selector_is_refused_and_the_others_are_kept(action: dict[str, Any]) -> None:
    loaded = settings({"dev-monthly": action, "dev-daily": {"action": "stop", "selector": {"env": "dev"}}})

    refused = loaded.budget_actions["dev-monthly"]
    assert isinstance(refused, RefusedBudgetAction)
    assert "no selector" in refused.reason
    assert "BudgetActions" in refused.reason
    assert loaded.refused_actions == {"dev-monthly": refused.reason}
    assert loaded.budget_actions["dev-daily"] == BudgetAction(action="stop", selector={"env": "dev"})


def test_a_selector_with_an_empty_tag_key_is_refused_since_no_service_can_carry_it() -> None:
    loaded = settings({"dev-monthly": {"action": "stop", "selector": {"": "dev"}}})

    assert "empty tag key" in loaded.refused_actions["dev-monthly"]


def test_an_alert_action_needs_no_selector() -> None:
    loaded = settings({"dev-monthly": {"action": "alert"}})

    assert loaded.refused_actions == {}
    assert loaded.budget_actions["dev-monthly"] == BudgetAction(action="alert")


def test_an_unknown_action_word_still_fails_the_settings() -> None:
    with pytest.raises(SettingsError, match="BUDGET_ACTIONS"):
        settings({"dev-monthly": {"action": "stopp", "selector": {"env": "dev"}}})


def test_a_refused_action_never_acts_and_its_reason_says_how_to_fix_it() -> None:
    notification = BudgetNotification(
        budget_name="dev-monthly",
        budget_type="Cost",
        budgeted_amount=Decimal("500"),
        currency="$",
        alert_type="ACTUAL",
        threshold_amount=Decimal("500"),
        reported_amount=Decimal("503.90"),
        time_unit="MONTHLY",
    )
    reason = settings({"dev-monthly": {"action": "stop"}}).refused_actions["dev-monthly"]

    decision = decide_alert(
        notification,
        datetime(2026, 11, 27, 21, 5, tzinfo=UTC),
        "stop",
        {},
        anomaly_multiple=10,
        environment="dev",
        refusal=reason,
    )

    assert not decision.verdict.act
    assert decision.verdict.reason.startswith("the stop action is refused")
    assert '"selector"' in decision.verdict.reason


def test_a_selector_reads_as_its_tag_pairs() -> None:
    assert describe_selector({"env": "dev", "team": "data"}) == "env=dev, team=data"
