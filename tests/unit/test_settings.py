"""Settings fail fast, naming every bad variable, so a broken deployment is loud on its first invocation."""

from __future__ import annotations

import pytest

from steward.settings import SettingsError, settings_from
from steward.settings.budget_alert import BudgetAlertSettings
from steward.settings.cost_report import CostReportSettings
from steward.settings.off_hours import OffHoursSettings

BASE = {"STEWARD_ENVIRONMENT": "dev", "STATE_TABLE": "steward-state", "AWS_REGION": "eu-central-1"}


def test_a_complete_environment_gives_frozen_settings_with_defaults() -> None:
    settings = settings_from(OffHoursSettings, {**BASE, "SCHEDULES_PARAMETER": "/steward/schedules"})
    assert settings.dry_run is False
    assert settings.max_concurrency == 8
    assert settings.slack_enabled is False
    with pytest.raises(ValueError, match="frozen"):
        settings.dry_run = True  # type: ignore[misc]


def test_every_bad_variable_is_named_in_one_message() -> None:
    environ = {**BASE, "STEWARD_ENVIRONMENT": "qa", "DRY_RUN": "perhaps", "SLACK_CHANNEL": "#general"}
    with pytest.raises(SettingsError) as raised:
        settings_from(OffHoursSettings, environ)
    message = str(raised.value)
    for name in ("STEWARD_ENVIRONMENT", "DRY_RUN", "SLACK_CHANNEL", "SCHEDULES_PARAMETER"):
        assert name in message
    assert "channel ID" in message


def test_budget_actions_are_read_from_json_and_a_typo_is_caught() -> None:
    good = settings_from(
        BudgetAlertSettings,
        {**BASE, "BUDGET_ACTIONS": '{"dev-monthly": {"action": "stop", "selector": {"env": "dev"}}}'},
    )
    assert good.budget_actions["dev-monthly"].selector == {"env": "dev"}
    with pytest.raises(SettingsError, match="BUDGET_ACTIONS"):
        settings_from(BudgetAlertSettings, {**BASE, "BUDGET_ACTIONS": '{"dev-monthly": {"action": "nuke"}}'})
    with pytest.raises(SettingsError, match="JSON object"):
        settings_from(BudgetAlertSettings, {**BASE, "BUDGET_ACTIONS": "{dev-monthly: stop"})


def test_report_timezone_must_be_a_real_zone() -> None:
    with pytest.raises(SettingsError, match="REPORT_TIMEZONE: Value error, unknown IANA timezone"):
        settings_from(CostReportSettings, {**BASE, "REPORT_TIMEZONE": "Europe/Berln"})


def test_slack_api_url_may_only_be_plain_http_on_the_loopback() -> None:
    local = settings_from(
        OffHoursSettings, {**BASE, "SCHEDULES_PARAMETER": "/s", "SLACK_API_URL": "http://127.0.0.1:9000/api"}
    )
    assert local.slack_api_url == "http://127.0.0.1:9000/api/"
    with pytest.raises(SettingsError, match="SLACK_API_URL"):
        settings_from(
            OffHoursSettings, {**BASE, "SCHEDULES_PARAMETER": "/s", "SLACK_API_URL": "http://slack.example/api/"}
        )
