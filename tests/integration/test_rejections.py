"""SPEC §4: a malformed or unrecognised event is rejected with a structured log line and a RejectedEvents metric,
changes nothing, makes no AWS call, and the handler returns normally (no retry storm)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EVENTS, emitted_metrics, event_files, load_event

HANDLERS = {
    "off_hours": "steward.handlers.off_hours",
    "spot_fallback": "steward.handlers.spot_fallback",
    "deploy_rollback": "steward.handlers.deploy_rollback",
    "budget_alert": "steward.handlers.budget_alert",
    "cost_report": "steward.handlers.cost_report",
}


def foreign_samples(function: str) -> list[Path]:
    """Valid events that belong to the other functions: each is a foreign event for this one."""
    return [path for folder in HANDLERS if folder != function for path in event_files(folder)]


CASES = [
    (function, path)
    for function in HANDLERS
    for path in event_files("malformed") + foreign_samples(function)
    # A schedule payload with another task is foreign too; the spot function's shift-back tick shares the shape.
]


@pytest.mark.parametrize(("function", "sample"), CASES, ids=[f"{f}:{p.relative_to(EVENTS)}" for f, p in CASES])
def test_bad_or_foreign_event_is_rejected_cleanly(
    function: str,
    sample: Path,
    bare_aws: None,
    aws_calls: list[str],
    lambda_context: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = importlib.import_module(HANDLERS[function]).lambda_handler

    result = handler(load_event(str(sample.relative_to(EVENTS))), lambda_context)

    output = capsys.readouterr().out
    assert result["outcome"] == "rejected", result
    assert result["reason"]
    assert aws_calls == [], f"a rejected event made AWS calls: {aws_calls}"
    assert emitted_metrics(output).get("RejectedEvents") == 1
    rejections = [record for record in caplog.records if record.getMessage() == "event rejected"]
    assert len(rejections) == 1
    assert rejections[0].rejection_reason == result["reason"]


@pytest.mark.parametrize("function", sorted(HANDLERS))
def test_a_non_object_event_is_rejected(
    function: str, bare_aws: None, aws_calls: list[str], lambda_context: Any
) -> None:
    handler = importlib.import_module(HANDLERS[function]).lambda_handler
    for event in (None, [], "x" * 10_000, 42):
        result = handler(event, lambda_context)
        assert result["outcome"] == "rejected"
        assert "not a JSON object" in result["reason"]
    assert aws_calls == []
