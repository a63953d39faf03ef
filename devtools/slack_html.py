"""Render the Slack messages the stand-in received as a page that looks close to Slack's Block Kit."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

from devtools.slack_standin import Recorded

STYLE = """
body { font-family: -apple-system, 'Segoe UI', Lato, Helvetica, Arial, sans-serif; background: #f8f8f8; margin: 0; color: #1d1c1d; }
.channel { max-width: 860px; margin: 24px auto; background: #fff; border: 1px solid #ddd; border-radius: 8px; }
.channel h1 { font-size: 18px; margin: 0; padding: 14px 20px; border-bottom: 1px solid #eee; }
.message { display: flex; padding: 12px 20px; border-bottom: 1px solid #f4f4f4; }
.avatar { width: 36px; height: 36px; border-radius: 6px; background: #2eb67d; color: #fff; font-weight: 700;
          display: flex; align-items: center; justify-content: center; margin-right: 10px; flex: none; }
.meta { font-size: 15px; } .meta b { margin-right: 6px; } .meta span { color: #616061; font-size: 12px; }
.thread { margin-left: 46px; border-left: 3px solid #e8e8e8; padding-left: 10px; }
.header { font-size: 18px; font-weight: 900; margin: 6px 0; }
.section { margin: 4px 0; line-height: 1.45; white-space: normal; }
.fields { display: grid; grid-template-columns: 1fr 1fr; gap: 4px 18px; margin: 6px 0; }
.context { color: #616061; font-size: 12px; margin: 4px 0; }
hr { border: none; border-top: 1px solid #e8e8e8; margin: 8px 0; }
pre { background: #f8f8f8; border: 1px solid #e1e1e1; border-radius: 4px; padding: 6px 8px; margin: 4px 0; font-size: 12px; white-space: pre-wrap; word-break: break-all; }
code { background: #f3f3f3; border: 1px solid #e1e1e1; border-radius: 3px; padding: 0 3px; color: #c01343; font-size: 12px; }
.channel-id { color: #616061; font-weight: 400; font-size: 13px; margin-left: 6px; }
"""


def mrkdwn(text: str) -> str:
    """Slack mrkdwn → HTML: *bold*, _italic_, ~strike~, `code`, ```block```, <url|label>, newlines (input already
    &-escaped)."""
    out = html.escape(html.unescape(text), quote=False)
    # A console URL carries & in its query (escaped &amp; here): the label ends the link, not the first &.
    out = re.sub(r"&lt;(https?://[^|\s]+?)\|(.+?)&gt;", r'<a href="\1">\2</a>', out)
    out = re.sub(r"```(.+?)```", r"<pre>\1</pre>", out, flags=re.DOTALL)
    out = re.sub(r"(?<!`)`([^`]+)`(?!`)", r"<code>\1</code>", out)
    out = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"<b>\1</b>", out)
    out = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"<i>\1</i>", out)
    out = re.sub(r"(?<![\w~])~([^~\n]+)~(?![\w~])", r"<s>\1</s>", out)
    return out.replace("\n", "<br>")


def render_block(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "header":
        return f'<div class="header">{html.escape(block["text"]["text"])}</div>'
    if kind == "divider":
        return "<hr>"
    if kind == "context":
        return (
            '<div class="context">'
            + " · ".join(mrkdwn(e.get("text", "")) for e in block.get("elements", []))
            + "</div>"
        )
    if kind == "section":
        parts = []
        if block.get("text"):
            parts.append(f'<div class="section">{mrkdwn(block["text"]["text"])}</div>')
        if block.get("fields"):
            parts.append(
                '<div class="fields">' + "".join(f"<div>{mrkdwn(f['text'])}</div>" for f in block["fields"]) + "</div>"
            )
        return "".join(parts)
    return f'<div class="context">[{html.escape(str(kind))} block]</div>'


def render_message(message: Recorded) -> str:
    body = "".join(render_block(b) for b in message.blocks) or f'<div class="section">{mrkdwn(message.text)}</div>'
    return (
        '<div class="message"><div class="avatar">S</div><div><div class="meta"><b>Steward</b><span>APP</span></div>'
        f"{body}</div></div>"
    )


def render_page(messages: Iterable[Recorded], title: str = "Steward in Slack") -> str:
    by_channel: dict[str, list[Recorded]] = {}
    for message in messages:
        by_channel.setdefault(str(message.body.get("channel")), []).append(message)
    sections = []
    for channel, posted in by_channel.items():
        rendered = []
        for message in posted:
            chunk = render_message(message)
            rendered.append(f'<div class="thread">{chunk}</div>' if message.body.get("thread_ts") else chunk)
        sections.append(
            f'<div class="channel"><h1># steward<span class="channel-id">{html.escape(channel)}</span></h1>{"".join(rendered)}</div>'
        )
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style></head><body>{''.join(sections)}</body></html>"
