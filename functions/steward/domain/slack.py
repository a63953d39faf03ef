"""Slack messages as values: Block Kit plus a plain-text fallback, always cut to fit Slack's limits.

Limits (Block Kit reference): 50 blocks a message, 3000 characters of section text, 10 fields a section,
2000 characters a field, 150 characters of header text, 10 elements a context block.

One format for people everywhere: money as `1,234.56 USD` (the ISO code after the figure), instants in UTC as
`2026-11-28T23:00Z` (also a value steward:keep-awake-until accepts), days as `Tue 2026-11-24`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

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


def framed(message: SlackMessage, scope: str, *, account: str = "", region: str = "") -> SlackMessage:
    """The message (and each reply) closed by a context line with the stack's scope, account and region ('dev · all
    clusters · account 123456789012 · eu-central-1'), so every message says which stack sent it. A message cut by
    `fit(..., room=FRAME_BLOCKS)` still has room for it."""
    where = " · ".join(part for part in (scope, f"account {account}" if account else "", region) if part)
    blocks = [*(message.blocks or [section(message.text)]), context(escape(where))]
    replies = tuple(framed(reply, scope, account=account, region=region) for reply in message.replies)
    return SlackMessage(message.text, tuple(blocks), message.channel, message.thread_key, replies)


FRAME_BLOCKS = 1  # the blocks `framed` adds


def fit(message: SlackMessage, *, room: int = 0) -> SlackMessage:
    """The same message cut to Slack's limits, less `room` blocks kept free; a cut tail is replaced by a line saying
    how much was left out."""
    blocks, most = list(message.blocks), MAX_BLOCKS - room
    if len(blocks) > most:
        left_out = len(blocks) - (most - 1)
        blocks = [*blocks[: most - 1], context(f"… {left_out} more blocks left out (Slack allows {MAX_BLOCKS})")]
    return SlackMessage(
        text=clip(message.text, MAX_FALLBACK_TEXT),
        blocks=tuple(blocks),
        channel=message.channel,
        thread_key=message.thread_key,
        replies=tuple(fit(reply, room=room) for reply in message.replies),
    )


# The symbols AWS Budgets writes before an amount ('$1,234.50'), as the ISO code Cost Explorer gives.
CURRENCY_CODES = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}


def money(amount: Decimal, unit: str) -> str:
    """'1,234.56 USD': the figure, then the currency code Budgets or Cost Explorer gave, never an assumed dollar."""
    figure = f"{amount.quantize(Decimal('0.01')):,}"
    return f"{figure} {CURRENCY_CODES.get(unit.strip(), unit.strip())}".strip()


def when(moment: datetime) -> str:
    """'2026-11-28T23:00Z': every instant people read, in UTC; a naive time is taken as UTC."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%MZ")


def day(value: date) -> str:
    """'Tue 2026-11-24': a calendar day (Cost Explorer's and Budgets' days are UTC days)."""
    return value.strftime("%a %Y-%m-%d")


def link(url: str, label: str) -> str:
    """A mrkdwn link; the label is escaped, so a service name cannot become markup."""
    return f"<{url}|{escape(label)}>" if url else escape(label)


def lines_in_sections(heading: str, lines: Iterable[str], *, most: int = MAX_BLOCKS) -> list[Block]:
    """Lines packed into at most `most` sections of at most 3000 characters, the heading on the first; a line too
    long for a section is cut, and the lines that do not fit are counted on the last one."""
    room = MAX_SECTION_TEXT - 40  # what a section holds besides the '… and N more' line
    texts: list[str] = []
    current, pending = heading, list(lines)
    for index, line in enumerate(clip(line, room) for line in pending):
        if len(current) + 1 + len(line) <= room:
            current = f"{current}\n{line}" if current else line
        elif len(texts) + 1 < most:
            texts.append(current)
            current = line
        else:
            current += f"\n… and {len(pending) - index} more"
            break
    return [section(text) for text in [*texts, current]]


def grouped[T](items: Iterable[tuple[str, T]]) -> list[tuple[str, list[T]]]:
    """Items under their reason, one group per distinct reason, in the order reasons first appear."""
    groups: dict[str, list[T]] = {}
    for reason, item in items:
        groups.setdefault(reason, []).append(item)
    return list(groups.items())


def joined(names: Sequence[str], *, room: int = 2000) -> str:
    """'a, b, c'; past `room` characters, '…, and 12 more', never cutting a name (or a link) in two."""
    shown: list[str] = []
    length = 0
    for name in names:
        if shown and length + 2 + len(name) > room:
            return ", ".join(shown) + f", and {len(names) - len(shown)} more"
        shown.append(name)
        length += 2 + len(name)
    return ", ".join(shown)


# ------------------------------------------------------------------------------------------ the AWS console
# Deep links in the forms the console itself uses; each is the page a person opens next, never an API.
BILLING_CONSOLE = "https://us-east-1.console.aws.amazon.com/costmanagement/home"  # Budgets and Cost Explorer: global


def arn_region(arn: str) -> str:
    """'eu-central-1' from 'arn:aws:ecs:eu-central-1:123456789012:service/…'; '' for anything else."""
    parts = arn.split(":", 5)
    return parts[3] if len(parts) == 6 and parts[0] == "arn" else ""


def arn_account(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else ""


def service_arn(region: str, account: str, cluster: str, service: str) -> str:
    """The long-form ECS service ARN (arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/SERVICE)."""
    return f"arn:aws:ecs:{region}:{account}:service/{cluster}/{service}" if region and account else ""


def ecs_service_url(region: str, cluster: str, service: str) -> str:
    """The service's page in the ECS console (v2 console: /ecs/v2/clusters/CLUSTER/services/SERVICE/health)."""
    if not region:
        return ""
    path = f"{quote(cluster, safe='')}/services/{quote(service, safe='')}"
    return f"https://{region}.console.aws.amazon.com/ecs/v2/clusters/{path}/health?region={region}"


def rds_database_url(region: str, kind: str, identifier: str) -> str:
    """The database's page in the RDS console (#database:id=ID;is-cluster=true|false)."""
    if not region:
        return ""
    cluster = "true" if kind == "cluster" else "false"
    return (
        f"https://{region}.console.aws.amazon.com/rds/home?region={region}"
        f"#database:id={quote(identifier, safe='')};is-cluster={cluster}"
    )


def alarm_url(region: str, alarm: str) -> str:
    """The alarm's page in the CloudWatch console (#alarmsV2:alarm/NAME, the name URL-encoded)."""
    if not region:
        return ""
    name = quote(alarm, safe="")
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{name}"


def budget_url(budget: str) -> str:
    """The budget's page in the Billing and Cost Management console (a global console, served from us-east-1)."""
    return f"{BILLING_CONSOLE}#/budgets/details?name={quote(budget, safe='')}"


def cost_explorer_url(tag_key: str, value: str, start: date, end: date) -> str:
    """Cost Explorer, daily, from `start` to `end` (inclusive, as the console counts), filtered to one cost tag value.
    The filter is the console's own JSON (dimension TagKey, the key as its growableValue), URL-encoded."""
    chosen = {"value": value, "displayValue": value}
    key = {"value": tag_key, "displayValue": tag_key}
    rule = {"dimension": {"id": "TagKey", "displayValue": "Tag"}, "operator": "INCLUDES", "values": [chosen]}
    filter_json = json.dumps([{**rule, "growableValue": key}], separators=(",", ":"))
    query = (
        f"chartStyle=STACK&costAggregate=unBlendedCost&endDate={end.isoformat()}&excludeForecasting=false"
        f"&filter={quote(filter_json, safe=':,')}&granularity=Daily&groupBy=%5B%22Service%22%5D"
        f"&historicalRelativeRange=CUSTOM&reportMode=STANDARD&showOnlyUncategorized=false&showOnlyUntagged=false"
        f"&startDate={start.isoformat()}"
    )
    return f"{BILLING_CONSOLE}#/cost-explorer?{query}"


def keep_awake_command(arn: str, until: datetime) -> str:
    """The AWS CLI command that keeps a service awake (or wakes it) until `until`."""
    return f"aws ecs tag-resource --resource-arn {arn} --tags key=steward:keep-awake-until,value={when(until)}"
