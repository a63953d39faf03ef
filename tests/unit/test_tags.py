"""One vocabulary for every steward:* tag value: what reads, what is reported, and which side Steward takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.domain.budgets import stop_candidates
from steward.domain.off_hours import Action, decide
from steward.domain.rollback import RollbackService
from steward.domain.schedules import Desired
from steward.domain.services import (
    CHANNEL_TAG,
    KEEP_AWAKE_TAG,
    PROTECTED_TAG,
    ROLLBACK_TAG,
    SCHEDULE_TAG,
    SPOT_FALLBACK_TAG,
    SWITCH_WORDS,
    InvalidTag,
    ServiceView,
    TagProblem,
    channel_of,
    invalid_tags,
    read_instant,
    read_schedule,
    read_switch,
)
from steward.reports.tags import fix_command, invalid_tags_message

NOW = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)
OFF = Desired("off", NOW - timedelta(minutes=1), "edge-1", "schedule office-hours: stop")
SWITCHES = (PROTECTED_TAG, SPOT_FALLBACK_TAG, ROLLBACK_TAG)


def service(**tags: str) -> ServiceView:
    return ServiceView("dev", "api", "arn:aws:ecs:eu-central-1:123456789012:service/dev/api", 2, tags)


def any_case(word: str) -> st.SearchStrategy[str]:
    return st.tuples(*(st.sampled_from([c.lower(), c.upper()]) for c in word)).map("".join)


@given(word=st.sampled_from(sorted(SWITCH_WORDS)).flatmap(any_case), tag=st.sampled_from(SWITCHES))
def test_every_switch_word_reads_in_any_case(word: str, tag: str) -> None:
    assert read_switch({tag: word}, tag) is SWITCH_WORDS[word.lower()]


@given(
    word=st.sampled_from(sorted(SWITCH_WORDS)).flatmap(any_case),
    before=st.sampled_from(["", " ", "\t"]),
    after=st.sampled_from([" ", "  ", "\n"]),
)
def test_a_switch_word_with_spaces_around_it_is_reported_with_the_word_to_set(
    word: str, before: str, after: str
) -> None:
    # IAM's StringEqualsIgnoreCase compares the value as written: " on " would not match "on".
    reading = read_switch({SPOT_FALLBACK_TAG: before + word + after}, SPOT_FALLBACK_TAG)

    assert isinstance(reading, InvalidTag)
    assert reading.why == "has spaces around it"
    assert reading.example == word.lower()


@given(value=st.text(max_size=12).filter(lambda v: v.lower().strip() not in SWITCH_WORDS))
def test_anything_else_on_a_switch_is_not_a_switch_word(value: str) -> None:
    reading = read_switch({PROTECTED_TAG: value}, PROTECTED_TAG)

    assert isinstance(reading, InvalidTag)
    assert "true/false, on/off or yes/no" in reading.fix


def test_no_tag_reads_as_none_so_each_capability_keeps_its_default() -> None:
    assert read_switch({}, ROLLBACK_TAG) is None
    assert read_instant({}, KEEP_AWAKE_TAG) is None
    assert invalid_tags({}) == ()


@pytest.mark.parametrize(
    ("value", "why", "example"),
    [
        ("tomorrow", "is not an ISO-8601 instant", "2026-11-28T23:00:00Z"),
        ("2026-11-28T23:00:00", "has no time zone", "2026-11-28T23:00:00Z"),
        ("2026-11-28", "has no time zone", "2026-11-28T00:00:00Z"),
        (" 2026-11-28T23:00:00Z", "has spaces around it", "2026-11-28T23:00:00Z"),
    ],
)
def test_keep_awake_needs_an_instant_with_its_zone(value: str, why: str, example: str) -> None:
    reading = read_instant({KEEP_AWAKE_TAG: value}, KEEP_AWAKE_TAG)

    assert isinstance(reading, InvalidTag)
    assert (reading.why, reading.example) == (why, example)


@pytest.mark.parametrize("value", ["2026-11-28T23:00:00Z", "2026-11-28T23:00:00+01:00", "2026-11-28T23:00Z"])
def test_keep_awake_reads_an_instant_with_z_or_an_offset(value: str) -> None:
    assert isinstance(read_instant({KEEP_AWAKE_TAG: value}, KEEP_AWAKE_TAG), datetime)


def test_a_schedule_naming_no_known_schedule_suggests_the_one_it_nearly_names() -> None:
    reading = read_schedule({SCHEDULE_TAG: "Office-Hours"}, {"office-hours", "batch"})

    assert isinstance(reading, InvalidTag)
    assert reading.example == "office-hours"
    assert "batch, office-hours" in reading.fix
    assert read_schedule({SCHEDULE_TAG: "batch"}, {"office-hours", "batch"}) == "batch"


@pytest.mark.parametrize("value", ["#team-api", "team-api", "c0123456789", ""])
def test_a_channel_must_be_a_channel_id_and_otherwise_messages_stay_in_stewards_channel(value: str) -> None:
    assert isinstance(invalid_tags({CHANNEL_TAG: value})[0], InvalidTag)
    assert channel_of({CHANNEL_TAG: value}) is None
    assert channel_of({CHANNEL_TAG: "C0123456789"}) == "C0123456789"


# ------------------------------------------------------------------ the safe side, per tag


@pytest.mark.parametrize("value", ["maybe", " false", "1", ""])
def test_an_unreadable_protected_counts_as_protected_for_off_hours_and_budgets(value: str) -> None:
    view = service(**{SCHEDULE_TAG: "office-hours", PROTECTED_TAG: value})

    decision = decide(view, OFF, None, NOW)

    assert decision.action is Action.SKIP
    assert f"steward:protected={value!r}" in decision.reason
    assert stop_candidates([view], {}, {}, NOW) == []


@pytest.mark.parametrize("value", ["tomorrow", "2026-11-28T23:00:00"])
def test_an_unreadable_keep_awake_is_never_stopped_by_off_hours_or_budgets(value: str) -> None:
    view = service(**{SCHEDULE_TAG: "office-hours", KEEP_AWAKE_TAG: value})

    assert decide(view, OFF, None, NOW).action is Action.NONE
    assert stop_candidates([view], {}, {}, NOW) == []


@pytest.mark.parametrize(("value", "opted_out"), [("maybe", True), ("OFF", True), ("no", True), ("On", False)])
def test_an_unreadable_rollback_tag_never_rolls_back(value: str, opted_out: bool) -> None:
    rollback = RollbackService(tags={ROLLBACK_TAG: value}, task_definition="td:1")

    assert rollback.opted_out is opted_out


def test_the_notice_names_the_value_why_and_the_exact_command() -> None:
    view = service(**{PROTECTED_TAG: "maybe"})
    [invalid] = invalid_tags(view.tags)

    message = invalid_tags_message([TagProblem(view, invalid)], NOW, None)

    command = "aws ecs tag-resource --resource-arn arn:aws:ecs:eu-central-1:123456789012:service/dev/api"
    assert fix_command(view, invalid) == f"{command} --tags key=steward:protected,value=true"
    assert "steward:protected='maybe' is not a switch word" in message.text
    assert f"{command} --tags key=steward:protected,value=true" in message.text
    assert len(message.blocks) <= 50
