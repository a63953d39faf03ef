"""The Slack notifier against the local stand-in: token from Secrets Manager, 429s retried, limits enforced,
and a Slack failure reported but never raised."""

from __future__ import annotations

import boto3
import pytest
from devtools.slack_standin import SlackStandIn

from steward.adapters.slack import SlackNotifier, token_from_secret
from steward.domain import slack as blocks
from steward.runtime import runtime, shared_aws
from steward.settings.off_hours import OffHoursSettings
from tests.conftest import SLACK_TOKEN


def notifier() -> SlackNotifier:
    return runtime(OffHoursSettings).slack


def test_the_token_comes_from_the_secret_and_the_message_carries_blocks_and_a_fallback(
    aws: None, slack: SlackStandIn
) -> None:
    message = blocks.SlackMessage(
        text="Off-hours: stopped 1", blocks=(blocks.header("Off-hours"), blocks.section("*api*"))
    )

    ts = notifier().post(message)

    assert ts
    [posted] = slack.messages
    assert posted.token == SLACK_TOKEN
    assert posted.text == "Off-hours: stopped 1"
    assert [b["type"] for b in posted.blocks] == ["header", "section", "context"]  # the context: the stack's scope


def test_a_429_is_retried_after_retry_after_and_posts_once(aws: None, slack: SlackStandIn) -> None:
    slack.rate_limit_next(times=1, retry_after=1)

    ts = notifier().post(blocks.SlackMessage(text="digest"))

    assert ts
    assert len(slack.rejected) == 1
    assert len(slack.messages) == 1
    assert slack.messages[0].at - slack.rejected[0].at >= 0.9


def test_slack_down_is_counted_and_not_raised(
    aws: None, slack: SlackStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.down = True

    assert notifier().post(blocks.SlackMessage(text="x")) is None
    assert slack.messages == []


def test_the_secret_may_hold_the_token_or_json_with_a_token_key() -> None:
    assert token_from_secret("xoxb-1") == "xoxb-1"
    assert token_from_secret(' {"token": "xoxb-2"} ') == "xoxb-2"
    with pytest.raises(ValueError, match="no string 'token' key"):
        token_from_secret('{"bot": "xoxb-3"}')


def test_the_token_is_read_once_per_container(aws: None, slack: SlackStandIn) -> None:
    for _ in range(3):
        runtime(OffHoursSettings).slack.post(blocks.SlackMessage(text="x"))
    assert shared_aws().calls["secretsmanager.GetSecretValue"] == 1


def test_messages_are_cut_to_slacks_limits(aws: None, slack: SlackStandIn) -> None:
    many = tuple(blocks.section("x" * 5000, fields=[f"f{i}" for i in range(14)]) for _ in range(80))

    notifier().post(blocks.SlackMessage(text="y" * 50_000, blocks=many))

    [posted] = slack.messages
    assert len(posted.blocks) == blocks.MAX_BLOCKS
    # One block is kept for the stack's scope, the last line of every message.
    assert "32 more blocks left out" in posted.blocks[-2]["elements"][0]["text"]
    assert posted.blocks[-1]["elements"][0]["text"].startswith("dev · all clusters")
    assert all(len(b["text"]["text"]) <= 3000 for b in posted.blocks if b["type"] == "section")
    assert all(len(b.get("fields", [])) <= 10 for b in posted.blocks)
    assert len(posted.text) <= blocks.MAX_FALLBACK_TEXT


def test_replies_go_into_the_thread_of_their_message(aws: None, slack: SlackStandIn) -> None:
    message = blocks.SlackMessage(text="digest", replies=(blocks.SlackMessage(text="the other 70 services"),))

    ts = notifier().post(message)

    assert [m.body.get("thread_ts") for m in slack.messages] == [None, ts]


def test_no_secret_configured_means_slack_is_off(
    aws: None, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_TOKEN_SECRET_ARN", "")
    assert notifier().post(blocks.SlackMessage(text="x")) is None
    assert slack.calls == []
    assert boto3.client("secretsmanager")  # moto still up; simply never asked
