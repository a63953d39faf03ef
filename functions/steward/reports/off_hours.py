"""Off-hours messages: what one tick stopped, started, failed and skipped, for Steward's channel and each team's;
the handler's summary of the tick; and the notice that a broken schedules document paused off-hours."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from msgspec import Struct

from steward.apply import Applied, Status
from steward.domain import slack as blocks
from steward.domain.databases import DatabaseView, DbAction, DbDecision, DbVerdict
from steward.domain.off_hours import ALREADY_STOPPING, Action, Decision, Verdict
from steward.domain.services import ServiceView, channel_of

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


class DbOutcome(Struct, frozen=True):
    """What became of one database's decision this tick."""

    applied: Applied[DbVerdict]
    error: str | None = None

    @property
    def database(self) -> DatabaseView:
        return self.applied.decision.database

    @property
    def decision(self) -> DbDecision:
        if self.applied.status is Status.DUPLICATE:
            return DbDecision(DbAction.SKIP, "another run is already stopping it")
        if self.applied.status is Status.REPORTED:
            return DbDecision(DbAction.NONE, ALREADY_REPORTED.reason)
        return self.applied.decision.decision

    @property
    def acted(self) -> bool:
        return self.decision.action in (DbAction.STOP, DbAction.START) and not self.error


class TickReport(Struct, frozen=True):
    outcomes: list[Outcome]
    now: datetime
    dry_run: bool
    databases: list[DbOutcome] = []

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
        """The tick's metrics, only those that are not zero: CloudWatch bills a custom metric by the hours it
        receives data, so a zero sent every tick would cost a whole metric-month."""
        counts = {
            "ServicesStopped": len(self.stopped),
            "ServicesStarted": len(self.started),
            "ServicesSkipped": len(self.skipped),
            "ServicesFailed": len(self.failed),
            "DatabasesStopped": len(self._dbs(DbAction.STOP)),
            "DatabasesStarted": len(self._dbs(DbAction.START)),
            "DatabasesFailed": len([o for o in self.databases if o.error]),
        }
        return {name: count for name, count in counts.items() if count}

    def _dbs(self, action: DbAction) -> list[DbOutcome]:
        return [o for o in self.databases if o.acted and o.decision.action is action]

    def result(self) -> dict[str, Any]:
        """The handler's return value."""
        acted = [o for o in self.outcomes if o.acted]
        databases = {
            "stopped": _db_lines(self._dbs(DbAction.STOP)),
            "started": _db_lines(self._dbs(DbAction.START)),
            "skipped": _db_lines([o for o in self.databases if o.decision.action is DbAction.SKIP]),
            "failed": _db_lines([o for o in self.databases if o.error]),
        }
        return {
            "outcome": "dry-run" if self.dry_run else "ok",
            "now": self.now.isoformat(),
            "stopped": _lines(self.stopped),
            "started": _lines(self.started),
            "skipped": _lines(self.skipped),
            "failed": _lines(self.failed),
            "unchanged": len(self.outcomes) - len(acted) - len(self.skipped) - len(self.failed),
            "changed": 0 if self.dry_run else len(acted) + sum(1 for o in self.databases if o.acted),
            **({"databases": databases} if self.databases else {}),
        }

    def messages(self) -> list[blocks.SlackMessage]:
        """Nothing when nothing changed or failed; else one for Steward's channel and one per team channel involved."""
        if not _worth_saying(self.outcomes, self.databases):
            return []
        by_channel: dict[str | None, list[Outcome]] = defaultdict(list)
        dbs_by_channel: dict[str | None, list[DbOutcome]] = defaultdict(list)
        for outcome in self.outcomes:
            by_channel[None].append(outcome)
            if channel := channel_of(outcome.service.tags):
                by_channel[channel].append(outcome)
        for db in self.databases:
            dbs_by_channel[None].append(db)
            if channel := channel_of(db.database.tags):
                dbs_by_channel[channel].append(db)
        return [
            tick_message(by_channel.get(channel, []), self.now, self.dry_run, channel, dbs_by_channel.get(channel, []))
            for channel in dict.fromkeys([*by_channel, *dbs_by_channel])
            if _worth_saying(by_channel.get(channel, []), dbs_by_channel.get(channel, []))
        ]


def _worth_saying(outcomes: list[Outcome], databases: list[DbOutcome]) -> bool:
    """A tick message says what changed or failed; a tick that did neither says nothing."""
    return any(o.acted or o.error for o in outcomes) or any(o.acted or o.error for o in databases)


def _lines(group: list[Outcome]) -> list[dict[str, str]]:
    return [{"service": o.service.key, "reason": o.error or o.decision.reason} for o in group]


def _db_lines(group: list[DbOutcome]) -> list[dict[str, str]]:
    return [{"database": o.database.key, "reason": o.error or o.decision.reason} for o in group]


def tick_message(
    outcomes: list[Outcome], now: datetime, dry: bool, channel: str | None, databases: list[DbOutcome] | None = None
) -> blocks.SlackMessage:
    """Each group (stopped, started, failed, skipped) with its reasons, each reason once with its services under it;
    when a stopped service comes back, and the command that keeps one awake; then the databases, alike."""
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
        lines = []
        for reason, members in blocks.grouped((_reason(o), o) for o in group):
            lines.append(f"• {blocks.escape(reason)}{_back(members)} ({len(members)})")
            lines.append("      " + blocks.joined([service_link(o.service) for o in members]))
        body += blocks.lines_in_sections(f"*{label}* ({len(group)})", lines, most=SECTIONS_PER_GROUP)
        text_lines.append(f"{label}: " + ", ".join(o.service.key for o in group))
    if groups["Stopped"]:
        body.append(blocks.section(keep_awake_text(groups["Stopped"], now)))
    db_groups = database_groups(databases or [])
    if any(db_groups.values()):
        body[0] = blocks.header(title + _db_counts(db_groups))
        text_lines[0] = title + _db_counts(db_groups)
    for label, db_group in db_groups.items():
        if not db_group:
            continue
        lines = [
            f"• {blocks.escape(reason)}{_db_back(members)} ({len(members)})\n      "
            + blocks.joined([database_link(o.database) for o in members])
            for reason, members in blocks.grouped((_db_reason(o), o) for o in db_group)
        ]
        body += blocks.lines_in_sections(f"*{label}* ({len(db_group)})", lines, most=DB_SECTIONS_PER_GROUP)
        text_lines.append(f"{label}: " + ", ".join(o.database.key for o in db_group))
    body.append(blocks.context(f"Steward {verb} these {_subjects(outcomes, databases)} at {blocks.when(now)}"))
    return blocks.SlackMessage(text="\n".join(text_lines), blocks=tuple(body), channel=channel)


SECTIONS_PER_GROUP = 8  # four groups, the header, the keep-awake commands and two context lines stay under 50 blocks
DB_SECTIONS_PER_GROUP = 2  # with the services' groups, the databases' three keep a message under Slack's 50 blocks


def database_groups(databases: list[DbOutcome]) -> dict[str, list[DbOutcome]]:
    """The databases a tick stopped, started or failed on (skips are in the log and `steward plan`)."""
    return {
        "Databases stopped": [o for o in databases if o.decision.action is DbAction.STOP and not o.error],
        "Databases started": [o for o in databases if o.decision.action is DbAction.START and not o.error],
        "Databases failed": [o for o in databases if o.error],
    }


def _db_counts(groups: dict[str, list[DbOutcome]]) -> str:
    return f"; databases stopped {len(groups['Databases stopped'])}, started {len(groups['Databases started'])}"


def _db_reason(outcome: DbOutcome) -> str:
    return f"failed: {outcome.error}" if outcome.error else outcome.decision.reason


def _db_back(members: list[DbOutcome]) -> str:
    starts = {o.decision.back_at for o in members if o.decision.action is DbAction.STOP}
    if len(starts) == 1 and None not in starts and all(o.decision.action is DbAction.STOP for o in members):
        (start,) = starts
        assert start is not None
        return f" — starts {blocks.when(start)}, ahead of its services"
    return ""


def _subjects(outcomes: list[Outcome], databases: list[DbOutcome] | None) -> str:
    if not databases or not any(o.acted or o.error for o in databases):
        return "services"
    return "services and databases" if any(o.acted or o.error for o in outcomes) else "databases"


def database_link(database: DatabaseView) -> str:
    """The database's name, linked to its page in the RDS console."""
    url = blocks.rds_database_url(blocks.arn_region(database.arn), database.kind, database.identifier)
    return blocks.link(url, database.key)


KEEP_AWAKE_COMMANDS = 5  # more would bury the message; the others differ only in the ARN
KEEP_AWAKE_FALLBACK = timedelta(hours=12)  # how long the command keeps awake a service no start brings back


def _reason(outcome: Outcome) -> str:
    return f"failed: {outcome.error}" if outcome.error else outcome.decision.reason


def _back(members: list[Outcome]) -> str:
    """When stopped services come back: one instant when they share it (services on one schedule do)."""
    if any(o.decision.action is not Action.STOP for o in members):
        return ""
    starts = {o.decision.back_at for o in members}
    if starts == {None}:
        return " — no scheduled start within a week: back with steward:keep-awake-until"
    if len(starts) == 1:
        (start,) = starts
        assert start is not None
        return f" — back at {blocks.when(start)} (next scheduled start)"
    return " — each back at its next scheduled start"


def service_link(service: ServiceView) -> str:
    """The service's name, linked to its page in the ECS console (the region is the one in its ARN)."""
    url = blocks.ecs_service_url(blocks.arn_region(service.arn), service.cluster, service.name)
    return blocks.link(url, service.key)


def keep_awake_text(stopped: list[Outcome], now: datetime) -> str:
    """The exact command that wakes a stopped service now and keeps it awake until its next scheduled start."""
    commands = []
    for outcome in [o for o in stopped if o.service.arn][:KEEP_AWAKE_COMMANDS]:
        until = outcome.decision.back_at or now + KEEP_AWAKE_FALLBACK
        commands.append(blocks.escape(blocks.keep_awake_command(outcome.service.arn, until)))
    if not commands:
        return "*Need one now?* Set `steward:keep-awake-until` on it; off-hours starts it on its next tick."
    more = len(stopped) - len(commands)
    rest = f"\nFor the other {more}, the same command with the service's ARN." if more > 0 else ""
    return (
        "*Need one now?* Tag it `steward:keep-awake-until`: off-hours starts it on its next tick and leaves it "
        f"running until then (here: its next scheduled start).\n```{chr(10).join(commands)}```{rest}"
    )


def paused_message(problem: str) -> blocks.SlackMessage:
    return blocks.SlackMessage(
        text=f"Off-hours paused: {problem}",
        blocks=(
            blocks.header("Off-hours paused: schedules document is broken"),
            blocks.section(blocks.escape(problem)),
            blocks.context("Nothing is stopped or started until the SSM parameter is fixed."),
        ),
    )
