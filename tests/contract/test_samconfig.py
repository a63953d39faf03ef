"""samconfig.toml: one stack per environment, so a dry run and the live run are the same stack with one switch."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path
from typing import Any

CONFIG = tomllib.loads((Path(__file__).parents[2] / "samconfig.toml").read_text())
ENVIRONMENTS = ("dev", "staging", "prod")


def stack_name(environment: str) -> str:
    return str(CONFIG[environment]["global"]["parameters"]["stack_name"])


def overrides(environment: str) -> dict[str, str]:
    line = CONFIG[environment]["deploy"]["parameters"]["parameter_overrides"]
    return dict(item.split("=", 1) for item in shlex.split(line))


def deploy(environment: str) -> dict[str, Any]:
    return dict(CONFIG[environment]["deploy"]["parameters"])


def test_each_environment_deploys_its_own_stack_and_default_is_the_dev_stack() -> None:
    # Given samconfig.toml
    # When each environment's stack is looked up
    names = [stack_name(environment) for environment in ENVIRONMENTS]

    # Then no two environments share a stack, and `sam deploy` alone deploys the dev stack exactly as dev does
    assert len(set(names)) == len(names)
    assert stack_name("default") == stack_name("dev")
    assert deploy("default") == deploy("dev")


def test_dry_run_is_one_parameter_of_each_environments_stack() -> None:
    for environment in ("default", *ENVIRONMENTS):
        assert overrides(environment)["DryRun"] in ("true", "false"), environment
