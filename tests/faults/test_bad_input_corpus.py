"""Property-based bad input: hostile and malformed events for every handler are rejected cleanly — a normal
return, a reason, and no AWS call (so certainly no mutation). Hypothesis generates the corpus; each test reports how
many cases it ran through the `corpus_sizes` record printed at the end of the session."""

from __future__ import annotations

import copy
import importlib
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import LambdaContext, load_event

HANDLERS = {
    "off_hours": ["off_hours/Tick--evening.json"],
    "spot_fallback": [
        "spot_fallback/FargateSpotTaskStopped--spot-interruption.json",
        "spot_fallback/PlacementFailed--fargate-spot.json",
        "spot_fallback/Ec2SpotWarning--instance.json",
        "spot_fallback/ShiftBack--tick.json",
    ],
    "deploy_rollback": [
        "deploy_rollback/AlarmFired--service-metric.json",
        "deploy_rollback/DeploymentChanged--completed.json",
    ],
    "budget_alert": ["budget_alert/BudgetNotification--monthly-actual-80.json"],
    "cost_report": ["cost_report/Daily--morning.json"],
}
# Fields each event cannot do without; removing one or giving it a value of the wrong kind must be refused.
REQUIRED = {
    "off_hours/Tick--evening.json": [("source",), ("task",), ("now",)],
    "cost_report/Daily--morning.json": [("source",), ("task",), ("now",)],
    "spot_fallback/ShiftBack--tick.json": [("source",), ("task",), ("now",)],
    "spot_fallback/FargateSpotTaskStopped--spot-interruption.json": [
        ("detail-type",),
        ("time",),
        ("account",),
        ("detail",),
        ("detail", "clusterArn"),
        ("detail", "taskArn"),
        ("detail", "lastStatus"),
        ("detail", "desiredStatus"),
        ("detail", "version"),
    ],
    "spot_fallback/PlacementFailed--fargate-spot.json": [
        ("detail-type",),
        ("time",),
        ("detail",),
        ("detail", "eventName"),
        ("detail", "clusterArn"),
    ],
    "spot_fallback/Ec2SpotWarning--instance.json": [
        ("detail-type",),
        ("time",),
        ("detail",),
        ("detail", "instance-id"),
    ],
    "deploy_rollback/AlarmFired--service-metric.json": [
        ("detail-type",),
        ("time",),
        ("detail",),
        ("detail", "alarmName"),
        ("detail", "state"),
        ("detail", "state", "timestamp"),
        ("detail", "state", "value"),
    ],
    "deploy_rollback/DeploymentChanged--completed.json": [
        ("detail-type",),
        ("time",),
        ("resources",),
        ("detail", "deploymentId"),
        ("detail", "updatedAt"),
        ("detail", "eventName"),
    ],
    "budget_alert/BudgetNotification--monthly-actual-80.json": [("Records",)],
}

JUNK = st.one_of(
    st.none(),
    st.lists(st.integers(), min_size=1, max_size=5),
    st.dictionaries(st.text(max_size=20), st.text(max_size=20), min_size=1, max_size=5),
    st.recursive(st.lists(st.none(), min_size=1), lambda inner: st.lists(inner, min_size=1, max_size=3), max_leaves=20),
)
HOSTILE_TOP = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=5000)),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=30), inner, max_size=5)),
    max_leaves=30,
)
corpus_sizes: Counter[str] = Counter()


def mutate(event: dict[str, Any], path: tuple[str, ...], value: Any, delete: bool) -> dict[str, Any]:
    mutated = copy.deepcopy(event)
    target = mutated
    for key in path[:-1]:
        target = target[key]
    if delete:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return mutated


def call(function: str, event: Any) -> dict[str, Any]:
    handler = importlib.import_module(f"steward.handlers.{function}").lambda_handler
    result: dict[str, Any] = handler(event, LambdaContext())
    return result


FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@pytest.mark.parametrize("function", sorted(HANDLERS))
@FAST
@given(data=st.data())
def test_a_required_field_missing_or_of_the_wrong_kind_is_rejected(
    function: str, data: st.DataObject, bare_aws: None, aws_calls: list[str]
) -> None:
    sample = data.draw(st.sampled_from(HANDLERS[function]))
    path = data.draw(st.sampled_from(REQUIRED[sample]))
    delete = data.draw(st.booleans())
    event = mutate(load_event(sample), path, data.draw(JUNK), delete)
    if sample.startswith("budget_alert") and not delete:
        event = {"Records": data.draw(JUNK)}
    corpus_sizes[function] += 1

    result = call(function, event)

    assert result["outcome"] == "rejected", (path, result)
    assert aws_calls == []


@pytest.mark.parametrize("function", sorted(HANDLERS))
@FAST
@given(event=HOSTILE_TOP)
def test_arbitrary_json_is_rejected(function: str, event: Any, bare_aws: None, aws_calls: list[str]) -> None:
    corpus_sizes[function] += 1

    result = call(function, event)

    assert result["outcome"] == "rejected"
    assert aws_calls == []


@pytest.mark.parametrize("function", sorted(HANDLERS))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=200))
def test_unicode_and_huge_strings_in_identifiers_are_rejected(
    function: str, text: str, bare_aws: None, aws_calls: list[str]
) -> None:
    sample = HANDLERS[function][0]
    path = REQUIRED[sample][0]
    event = mutate(load_event(sample), path, text * (50_000 // len(text) + 1), delete=False)
    corpus_sizes[function] += 1

    result = call(function, event)

    assert result["outcome"] == "rejected"
    assert aws_calls == []


def test_a_one_megabyte_sns_message_is_rejected(bare_aws: None, aws_calls: list[str]) -> None:
    event = load_event("budget_alert/BudgetNotification--monthly-actual-80.json")
    event["Records"][0]["Sns"]["Message"] = "Budget Name: x\n" * 70_000  # ~1 MB
    corpus_sizes["budget_alert"] += 1

    result = call("budget_alert", event)

    assert result["outcome"] == "rejected"
    assert "262144" in result["reason"] or "at most" in result["reason"]
    assert aws_calls == []


def test_zz_report_corpus_size() -> None:
    """Prints the number of bad inputs each handler was given (for the closing figures)."""
    total = sum(corpus_sizes.values())
    print(f"\nbad-input corpus: {total} cases — " + ", ".join(f"{k} {v}" for k, v in sorted(corpus_sizes.items())))
    assert total > 0
