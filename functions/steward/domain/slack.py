"""Slack messages as values: Block Kit plus a plain-text fallback, always cut to fit Slack's limits.

Limits (Block Kit reference): 50 blocks a message, 3000 characters of section text, 10 fields a section,
2000 characters a field, 150 characters of header text, 10 elements a context block.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from msgspec import Struct, field

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_FALLBACK_TEXT = 3000

Block = dict[str, Any]


class SlackMessage(Struct, frozen=True):
    text: str
    blocks: tuple[Block, ...] = ()
    channel: str | None = None  # None: the function's default channel
    thread_key: str | None = None  # messages with the same key go into one thread
    replies: tuple[SlackMessage, ...] = field(default=())


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, MAX_HEADER_TEXT), "emoji": True}}


def section(markdown: str, fields: Sequence[str] = ()) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": clip(markdown, MAX_SECTION_TEXT)}}
    if fields:
        block["fields"] = [{"type": "mrkdwn", "text": clip(f, MAX_FIELD_TEXT)} for f in fields[:MAX_FIELDS]]
    return block


def context(*elements: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(e, MAX_SECTION_TEXT)} for e in elements[:MAX_CONTEXT_ELEMENTS]],
    }


def divider() -> Block:
    return {"type": "divider"}


def escape(text: str) -> str:
    """Slack mrkdwn control characters; user-controlled names must not become links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(message: SlackMessage) -> SlackMessage:
    """The same message cut to Slack's limits; a cut tail is replaced by a line saying how much was left out."""
    blocks = list(message.blocks)
    if len(blocks) > MAX_BLOCKS:
        left_out = len(blocks) - (MAX_BLOCKS - 1)
        blocks = [*blocks[: MAX_BLOCKS - 1], context(f"… {left_out} more blocks left out (Slack allows {MAX_BLOCKS})")]
    return SlackMessage(
        text=clip(message.text, MAX_FALLBACK_TEXT),
        blocks=tuple(blocks),
        channel=message.channel,
        thread_key=message.thread_key,
        replies=tuple(fit(reply) for reply in message.replies),
    )


def money(amount: Decimal, unit: str) -> str:
    """'$503.90', '€90.00', '12.50 USD': the unit Budgets or Cost Explorer gave, never an assumed dollar."""
    figure = f"{amount.quantize(Decimal('0.01')):,}"
    if len(unit) == 1 and not unit.isalnum():
        return f"{unit}{figure}"
    return f"{figure} {unit}".strip()
