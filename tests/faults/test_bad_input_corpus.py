"""Property-based bad input: hostile and malformed events for every handler are rejected cleanly — a normal
return, a reason, and no AWS call (so certainly no mutation). Hypothesis generates the corpus from every sample in
events/<function>/ (new samples join it on their own); each test counts the cases it ran, and the last one records
the per-handler totals (`corpus_sizes`), which the session prints at its end."""

from __future__ import annotations

import copy
import importlib
import io
import logging
import string
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steward.observability import logger
from tests.conftest import LambdaContext, event_files, load_event, mocked_aws, steward_environment

pytestmark = pytest.mark.long_running

FUNCTIONS = ("budget_alert", "cost_report", "deploy_rollback", "off_hours", "spot_fallback")
MINIMUM_CORPUS = 2_000  # generated bad inputs per handler, every session


def event_kind(event: dict[str, Any]) -> str:
    if "Records" in event:
        return "sns"
    if event.get("source") == "steward.scheduler":
        return "scheduler"
    kind: str = event["detail-type"]
    return kind


# Fields each kind of event cannot do without; removing one or giving it a value of the wrong kind must be refused.
REQUIRED: dict[str, list[tuple[str | int, ...]]] = {
    "scheduler": [("source",), ("task",), ("now",)],
    "ECS Task State Change": [
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
    "ECS Service Action": [
        ("detail-type",),
        ("time",),
        ("detail",),
        ("detail", "eventName"),
        ("detail", "clusterArn"),
    ],
    "EC2 Spot Instance Interruption Warning": [
        ("detail-type",),
        ("time",),
        ("detail",),
        ("detail", "instance-id"),
    ],
    "CloudWatch Alarm State Change": [
        ("detail-type",),
        ("time",),
        ("detail",),
        ("detail", "alarmName"),
        ("detail", "state"),
        ("detail", "state", "timestamp"),
        ("detail", "state", "value"),
    ],
    "ECS Deployment State Change": [
        ("detail-type",),
        ("time",),
        ("resources",),
        ("detail", "deploymentId"),
        ("detail", "updatedAt"),
        ("detail", "eventName"),
    ],
    "RDS DB Instance Event": [
        ("detail-type",),
        ("time",),
        ("detail",),
        ("detail", "EventID"),
        ("detail", "SourceArn"),
    ],
    "sns": [
        ("Records",),
        ("Records", 0, "EventSource"),
        ("Records", 0, "Sns"),
        ("Records", 0, "Sns", "MessageId"),
        ("Records", 0, "Sns", "Message"),
        ("Records", 0, "Sns", "Timestamp"),
    ],
}
# Where each kind carries the instant Steward takes as "now" (SPEC §4).
TIME_FIELD: dict[str, tuple[str | int, ...]] = {"scheduler": ("now",), "sns": ("Records", 0, "Sns", "Timestamp")}

SAMPLES = {
    function: {
        str(path.relative_to(path.parents[1])): load_event(str(path.relative_to(path.parents[1])))
        for path in event_files(function)
    }
    for function in FUNCTIONS
}
FOREIGN = {
    function: sorted(name for other in FUNCTIONS if other != function for name in SAMPLES[other])
    for function in FUNCTIONS
}
ALL_SAMPLES = {name: event for samples in SAMPLES.values() for name, event in samples.items()}

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
# Text that is no instant at all: no digits, so neither an ISO 8601 time nor epoch seconds.
WORDS = st.text(alphabet=string.ascii_letters + string.punctuation + " äß€\u200b\U0001f600", max_size=40)


@st.composite
def impossible_iso_instants(draw: st.DrawFn) -> str:
    """ISO 8601 shaped, with a zone, but no such instant: month 13, 30 February, hour 24, minute 60 …"""
    year = draw(st.integers(1970, 2100))
    parts = {"month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0}
    broken = draw(st.sampled_from(sorted(parts)))
    limits = {"month": (13, 99), "day": (32, 99), "hour": (24, 99), "minute": (60, 99), "second": (61, 99)}
    parts[broken] = draw(st.integers(*limits[broken]))
    if broken == "day" and draw(st.booleans()):
        parts["month"], parts["day"] = 2, draw(st.integers(30, 31))
    zone = draw(st.sampled_from(["Z", "+00:00", "-05:00"]))
    return "{:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{}".format(year, zone, **parts)


NOT_AN_INSTANT = st.one_of(
    st.datetimes().map(datetime.isoformat),  # no zone: which 19:00?
    st.dates().map(date.isoformat),  # a day, not an instant
    st.times(timezones=st.just(UTC)).map(time.isoformat),  # a time of day on no date
    impossible_iso_instants(),
    WORDS,
    st.sampled_from(["", "<aws.scheduler.scheduled-time>", "now", "today"]),  # empty, or the placeholder unsubstituted
)
corpus_sizes: Counter[str] = Counter()


def mutate(event: dict[str, Any], path: tuple[str | int, ...], value: Any, delete: bool) -> dict[str, Any]:
    mutated = copy.deepcopy(event)
    target: Any = mutated
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
    corpus_sizes[function] += 1
    return result


def assert_rejected_cleanly(result: dict[str, Any], aws_calls: list[str], case: Any = None) -> None:
    assert result["outcome"] == "rejected", (case, result)
    assert isinstance(result["reason"], str), result
    assert result["reason"], result
    assert aws_calls == [], f"a rejected event made AWS calls: {aws_calls}"


@pytest.fixture(scope="module")
def one_moto_world() -> Iterator[None]:
    """One empty moto world for every case in this module: a case must make no AWS call, and if one does, it
    reaches moto (and is caught by `aws_calls`), never AWS."""
    with mocked_aws(), pytest.MonkeyPatch.context() as env:
        steward_environment(env, SLACK_TOKEN_SECRET_ARN="arn:aws:secretsmanager:eu-central-1:123456789012:secret:x")
        yield


@pytest.fixture
def quiet_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each rejection's log line is still formatted (the formatter meets every hostile value), then dropped instead of
    going to the captured stdout and pytest's log capture ten thousand times (tests/integration/test_rejections.py
    checks the line itself)."""
    monkeypatch.setattr(logger.registered_handler, "stream", NullStream())
    monkeypatch.setattr(logging.getLogger(logger.name), "propagate", False)


class NullStream(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


@pytest.fixture
def bad_input(one_moto_world: None, quiet_logs: None, aws_calls: list[str]) -> list[str]:
    return aws_calls


def corpus(examples: int) -> Callable[[Any], Any]:
    """Hypothesis as CI wants it: the same cases every run (derandomize, no example database), no deadline (a loaded
    machine is not a bug), and fixtures shared by a test's examples on purpose."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def batch[T](case: st.SearchStrategy[T], size: int) -> st.SearchStrategy[list[T]]:
    """Several cases per Hypothesis example: the engine's own cost per example (a few ms) is shared by `size` cases,
    and a failing batch still shrinks to the one case that fails."""
    return st.lists(case, min_size=size, max_size=size)


REQUIRED_CASES = {
    function: [
        (name, path) for name, event in sorted(SAMPLES[function].items()) for path in REQUIRED[event_kind(event)]
    ]
    for function in FUNCTIONS
}


@pytest.mark.parametrize("function", FUNCTIONS)
@corpus(24)
@given(data=st.data())
def test_a_required_field_missing_or_of_the_wrong_kind_is_rejected(
    function: str, data: st.DataObject, bad_input: list[str]
) -> None:
    cases = data.draw(batch(st.tuples(st.sampled_from(REQUIRED_CASES[function]), st.booleans(), JUNK), 50))
    for (name, path), delete, value in cases:
        event = mutate(SAMPLES[function][name], path, value, delete)

        result = call(function, event)

        assert_rejected_cleanly(result, bad_input, (name, path, delete, value))


@pytest.mark.parametrize("function", FUNCTIONS)
@corpus(40)
@given(events=batch(HOSTILE_TOP, 5))
def test_arbitrary_json_is_rejected(function: str, events: list[Any], bad_input: list[str]) -> None:
    for event in events:
        result = call(function, event)

        assert_rejected_cleanly(result, bad_input, event)


@pytest.mark.parametrize("function", FUNCTIONS)
@corpus(20)
@given(data=st.data())
def test_unicode_and_huge_strings_in_identifiers_are_rejected(
    function: str, data: st.DataObject, bad_input: list[str]
) -> None:
    cases = data.draw(
        batch(st.tuples(st.sampled_from(sorted(SAMPLES[function])), st.text(min_size=1, max_size=200)), 5)
    )
    for name, text in cases:
        sample = SAMPLES[function][name]
        path = REQUIRED[event_kind(sample)][0]
        event = mutate(sample, path, text * (50_000 // len(text) + 1), delete=False)

        result = call(function, event)

        assert_rejected_cleanly(result, bad_input, (name, text))


@pytest.mark.parametrize("function", FUNCTIONS)
@corpus(30)
@given(data=st.data())
def test_a_time_that_is_not_an_instant_is_rejected(function: str, data: st.DataObject, bad_input: list[str]) -> None:
    """`time` of an EventBridge event, `now` of a scheduler payload, `Timestamp` of an SNS record: "now" is read from
    it, so a time with no zone, no date or no such day is refused rather than guessed."""
    cases = data.draw(batch(st.tuples(st.sampled_from(sorted(SAMPLES[function])), NOT_AN_INSTANT), 10))
    for name, instant in cases:
        sample = SAMPLES[function][name]
        event = mutate(sample, TIME_FIELD.get(event_kind(sample), ("time",)), instant, delete=False)

        result = call(function, event)

        assert_rejected_cleanly(result, bad_input, (name, instant))


LATE_OR_REDELIVERED = st.tuples(
    st.uuids().map(str),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
)


@pytest.mark.parametrize("function", FUNCTIONS)
@corpus(30)
@given(data=st.data())
def test_another_functions_event_is_rejected_however_late_or_often_it_arrives(
    function: str, data: st.DataObject, bad_input: list[str]
) -> None:
    """A redelivery has a new id, a late event an old time; neither makes another function's event this one's."""
    cases = data.draw(batch(st.tuples(st.sampled_from(FOREIGN[function]), LATE_OR_REDELIVERED), 10))
    for name, (delivery_id, sent) in cases:
        sample = ALL_SAMPLES[name]
        kind = event_kind(sample)
        event = mutate(sample, TIME_FIELD.get(kind, ("time",)), sent.isoformat().replace("+00:00", "Z"), delete=False)
        if kind != "scheduler":
            event = mutate(event, ("Records", 0, "Sns", "MessageId") if kind == "sns" else ("id",), delivery_id, False)

        result = call(function, event)

        assert_rejected_cleanly(result, bad_input, name)


def test_a_one_megabyte_sns_message_is_rejected(bad_input: list[str]) -> None:
    event = load_event("budget_alert/BudgetNotification--monthly-actual-80.json")
    event["Records"][0]["Sns"]["Message"] = "Budget Name: x\n" * 70_000  # ~1 MB

    result = call("budget_alert", event)

    assert_rejected_cleanly(result, bad_input)
    assert "262144" in result["reason"] or "at most" in result["reason"]


def test_zz_report_corpus_size(request: pytest.FixtureRequest, record_property: Callable[[str, object], None]) -> None:
    """Records the number of bad inputs each handler was given (printed at the end of the session); a handler whose
    whole corpus ran must have had at least MINIMUM_CORPUS."""
    total = sum(corpus_sizes.values())
    record_property(
        "figures",
        f"bad-input corpus: {total} cases — " + ", ".join(f"{k} {v}" for k, v in sorted(corpus_sizes.items())),
    )
    assert total > 0
    corpus_tests = {item.originalname for item in request.session.items if item.module is request.module}
    corpus_tests.discard(request.node.originalname)
    for function in FUNCTIONS:
        ran = {
            item.originalname
            for item in request.session.items
            if item.module is request.module
            and getattr(item, "callspec", None)
            and item.callspec.params.get("function") == function
        }
        if ran >= corpus_tests - {"test_a_one_megabyte_sns_message_is_rejected"}:
            assert corpus_sizes[function] >= MINIMUM_CORPUS, (function, corpus_sizes)
