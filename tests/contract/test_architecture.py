"""The layering docs/ARCHITECTURE.md describes, checked on the source: the domain and the Slack builders are pure,
no workflow imports another, and no workflow reaches a boto3 client."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "functions" / "steward"
PURE_FORBIDDEN = ("boto3", "botocore", "slack_sdk", "os", "steward.adapters", "steward.runtime", "steward.workflows")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def modules_in(folder: str) -> list[Path]:
    return sorted(path for path in (PACKAGE / folder).glob("*.py") if path.name != "__init__.py")


@pytest.mark.parametrize(
    "path", modules_in("domain") + modules_in("reports"), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_decisions_and_messages_are_pure(path: Path) -> None:
    offending = {name for name in imported_modules(path) if name.startswith(PURE_FORBIDDEN)}

    assert not offending, f"{path.name} imports {sorted(offending)}"


@pytest.mark.parametrize("path", modules_in("workflows"), ids=lambda p: p.name)
def test_no_workflow_imports_another_or_holds_a_client(path: Path) -> None:
    imports = imported_modules(path)
    source = path.read_text()

    assert not {name for name in imports if name.startswith("steward.workflows")}
    assert "boto3" not in imports
    # Adapters are built from the client bag in one place; no workflow calls a client itself.
    calls_a_client = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "aws"
        and node.attr not in ("calls", "total_calls")
    ]
    assert not calls_a_client, f"{path.name} calls rt.aws.{calls_a_client[0].attr}"
