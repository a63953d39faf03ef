"""Off-hours messages: what one tick stopped, started, failed and skipped, for Steward's channel and each team's;
the handler's summary of the tick; and the notice that a broken schedules document paused off-hours."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from msgspec import Struct

from steward.apply import Applied, Status
from steward.domain import slack as blocks
from steward.domain.off_hours import ALREADY_STOPPING, Action, Decision, Verdict
from steward.domain.services import CHANNEL_TAG, ServiceView

# What a dry-run tick reports for a would-be change an earlier tick of the same edge reported.
ALREADY_REPORTED = Decision(Action.NONE, "dry run: reported when its edge came; nothing changed")


class Outcome(Struct, frozen=True):
    """What became of one service's decision this tick."""

    applied: Applied[Verdict]
    error: str | None = None  # why the change failed, in short

    @property
    def service(self) -> ServiceView:
        return self.applied.decision.service

    @property
    def decision(self) -> Decision:
        # A stop another run claimed first is reported as this tick skipping it.
        if self.applied.status is Status.DUPLICATE:
            return ALREADY_STOPPING
        if self.applied.status is Status.REPORTED:
            return ALREADY_REPORTED
        return self.applied.decision.decision

    @property
    def done(self) -> bool:
        return self.applied.status is Status.DONE

    @property
    def acted(self) -> bool:
        """Stopped or started (or would have been, in a dry run)."""
        return self.decision.action in (Action.STOP, Action.START) and not self.error

    def line(self) -> str:
        status = f"failed: {self.error}" if self.error else self.decision.reason
        return f"`{blocks.escape(self.service.key)}` — {blocks.escape(status)}"


class TickReport(Struct, frozen=True):
    outcomes: list[Outcome]
    now: datetime
    dry_run: bool

    @property
    def stopped(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.acted and o.decision.action is Action.STOP]

    @property
    def started(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.acted and o.decision.action is Action.START]

    @property
    def skipped(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.decision.action is Action.SKIP]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.error]

    def counts(self) -> dict[str, int]:
        """The tick's metrics."""
        return {
            "ServicesStopped": len(self.stopped),
            "ServicesStarted": len(self.started),
            "ServicesSkipped": len(self.skipped),
            "ServicesFailed": len(self.failed),
        }

    def result(self) -> dict[str, Any]:
        """The handler's return value."""
        acted = [o for o in self.outcomes if o.acted]
        return {
            "outcome": "dry-run" if self.dry_run else "ok",
            "now": self.now.isoformat(),
            "stopped": _lines(self.stopped),
            "started": _lines(self.started),
            "skipped": _lines(self.skipped),
            "failed": _lines(self.failed),
            "unchanged": len(self.outcomes) - len(acted) - len(self.skipped) - len(self.failed),
            "changed": 0 if self.dry_run else len(acted),
        }

    def messages(self) -> list[blocks.SlackMessage]:
        """Nothing when nothing changed or failed; else one for Steward's channel and one per team channel involved."""
        if not any(o.acted or o.error for o in self.outcomes):
            return []
        by_channel: dict[str | None, list[Outcome]] = defaultdict(list)
        for outcome in self.outcomes:
            by_channel[None].append(outcome)
            if channel := outcome.service.tags.get(CHANNEL_TAG):
                by_channel[channel].append(outcome)
        return [
            tick_message(group, self.now, self.dry_run, channel)
            for channel, group in by_channel.items()
            if any(o.acted or o.error for o in group)
        ]


def _lines(group: list[Outcome]) -> list[dict[str, str]]:
    return [{"service": o.service.key, "reason": o.error or o.decision.reason} for o in group]


def tick_message(outcomes: list[Outcome], now: datetime, dry: bool, channel: str | None) -> blocks.SlackMessage:
    groups = {
        "Stopped": [o for o in outcomes if o.decision.action is Action.STOP and not o.error],
        "Started": [o for o in outcomes if o.decision.action is Action.START and not o.error],
        "Failed (retried next tick)": [o for o in outcomes if o.error],
        "Skipped": [o for o in outcomes if o.decision.action is Action.SKIP],
    }
    verb = "would change" if dry else "changed"
    title = (
        f"{'[dry run] ' if dry else ''}Off-hours: stopped {len(groups['Stopped'])}, started {len(groups['Started'])}"
    )
    body: list[blocks.Block] = [blocks.header(title)]
    text_lines = [title]
    for label, group in groups.items():
        if not group:
            continue
        lines = [o.line() for o in group]
        body.append(blocks.section(f"*{label}* ({len(group)})\n" + "\n".join(lines)))
        text_lines.append(f"{label}: " + ", ".join(o.service.key for o in group))
    body.append(blocks.context(f"Steward {verb} these services at {now.isoformat(timespec='minutes')}"))
    return blocks.SlackMessage(text="\n".join(text_lines), blocks=tuple(body), channel=channel)


def paused_message(problem: str) -> blocks.SlackMessage:
    return blocks.SlackMessage(
        text=f"Off-hours paused: {problem}",
        blocks=(
            blocks.header("Off-hours paused: schedules document is broken"),
            blocks.section(blocks.escape(problem)),
            blocks.context("Nothing is stopped or started until the SSM parameter is fixed."),
        ),
    )
