"""`steward check`: the settings a deployment would get, checked before deploying — from a samconfig.toml environment
(through template.yaml) or from the environment variables — each problem named with its parameter and the fix;
exit 0 when clean, 1 with problems, 2 for bad usage."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from devtools.template import ROOT, TEMPLATE

from steward.cli import EXIT_INVALID, EXIT_OK, EXIT_USAGE, main

SAMCONFIG = ROOT / "samconfig.toml"
REFUSED = '{"dev-all": {"action": "stop"}, "dev-monthly": {"action": "stop", "selector": {"env": "dev"}}}'


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def samconfig(tmp_path: Path, overrides: str, env: str = "dev") -> Path:
    path = tmp_path / "samconfig.toml"
    path.write_text(f"version = 0.1\n\n[{env}.deploy.parameters]\nparameter_overrides = {json.dumps(overrides)}\n")
    return path


@pytest.mark.parametrize("env", ["default", "dev", "staging", "prod"])
def test_every_shipped_samconfig_environment_passes_the_check(env: str) -> None:
    code, output = run("check", "--config-env", env, "--config-file", str(SAMCONFIG), "--template", str(TEMPLATE))

    assert code == EXIT_OK, output
    assert "no problems" in output


def test_a_stop_action_without_a_selector_is_reported_with_its_parameter_and_the_fix(tmp_path: Path) -> None:
    config = samconfig(tmp_path, f"Environment=dev BudgetActions='{REFUSED}'")

    code, output = run("check", "--config-env", "dev", "--config-file", str(config), "--template", str(TEMPLATE))

    assert code == EXIT_INVALID
    [problem] = [line for line in output.splitlines() if "dev-all" in line]
    assert problem.startswith("BudgetActions")
    assert "no selector" in problem
    assert '"selector"' in problem  # the fix
    assert "dev-monthly" not in output  # the action with a selector is fine
    assert "1 problem" in output


def test_each_bad_parameter_is_reported_once_with_the_fix(tmp_path: Path) -> None:
    config = samconfig(
        tmp_path,
        "Environment=qa ReportTimezone=Europe/Berln SlackChannel=general BudgetActions='{dev-monthly: stop' Colour=blue",
    )

    code, output = run("check", "--config-env", "dev", "--config-file", str(config), "--template", str(TEMPLATE))

    assert code == EXIT_INVALID
    lines = output.splitlines()
    for parameter, words in [
        ("Environment", "dev, staging, prod"),
        ("ReportTimezone", "unknown IANA timezone 'Europe/Berln'"),
        ("SlackChannel", "channel ID"),
        ("BudgetActions", "JSON"),
        ("Colour", "not a parameter of"),
    ]:
        found = [line for line in lines if line.startswith(parameter)]
        assert len(found) == 1, (parameter, output)  # once, though every function reads Environment
        assert words in found[0], (parameter, found[0])
    assert "5 problems" in output


def test_a_parameter_without_a_default_and_without_a_value_is_reported(tmp_path: Path) -> None:
    config = samconfig(tmp_path, "DryRun=true")

    code, output = run("check", "--config-env", "dev", "--config-file", str(config), "--template", str(TEMPLATE))

    assert code == EXIT_INVALID
    assert any(line.startswith("Environment") and "no value" in line for line in output.splitlines()), output


def test_a_broken_schedules_document_is_reported(tmp_path: Path) -> None:
    config = samconfig(tmp_path, "Environment=dev")
    schedules = tmp_path / "schedules.json"
    schedules.write_text('{"office-hours": {"timezone": "Mars/Olympus", "periods": []}}')

    code, output = run(
        "check",
        "--config-env",
        "dev",
        "--config-file",
        str(config),
        "--template",
        str(TEMPLATE),
        "--schedules",
        str(schedules),
    )

    assert code == EXIT_INVALID
    assert any(line.startswith(str(schedules)) for line in output.splitlines()), output


def test_without_a_config_env_the_environment_variables_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "STEWARD_ENVIRONMENT": "dev",
        "STATE_TABLE": "steward-dev-state",
        "SCHEDULES_PARAMETER": "/steward-dev/schedules",
        "BUDGET_ACTIONS": REFUSED,
    }.items():
        monkeypatch.setenv(name, value)

    code, output = run("check", "--template", str(TEMPLATE))

    assert code == EXIT_INVALID
    [problem] = [line for line in output.splitlines() if "dev-all" in line]
    assert problem.startswith("BudgetActions (BUDGET_ACTIONS)")

    monkeypatch.setenv("BUDGET_ACTIONS", '{"dev-monthly": {"action": "stop", "selector": {"env": "dev"}}}')
    assert run("check", "--template", str(TEMPLATE))[0] == EXIT_OK


def test_an_unknown_config_env_or_a_missing_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = samconfig(tmp_path, "Environment=dev")

    assert run("check", "--config-env", "qa", "--config-file", str(config))[0] == EXIT_USAGE
    assert "no [qa] environment" in capsys.readouterr().err
    assert run("check", "--config-env", "dev", "--config-file", str(tmp_path / "nope.toml"))[0] == EXIT_USAGE
    assert "nope.toml" in capsys.readouterr().err


def test_a_refused_action_is_reported_even_when_another_parameter_is_wrong(tmp_path: Path) -> None:
    config = samconfig(tmp_path, f"Environment=qa BudgetActions='{REFUSED}'")

    code, output = run("check", "--config-env", "dev", "--config-file", str(config), "--template", str(TEMPLATE))

    assert code == EXIT_INVALID
    assert any(line.startswith("Environment:") for line in output.splitlines()), output
    assert any(line.startswith("BudgetActions") and "dev-all" in line for line in output.splitlines()), output
