"""One off-hours tick: read the schedules, the services and Steward's records; decide per service; act; report.

Requests: ListClusters, ListServices (100 a page), DescribeServices (10 a call, tags included), one SSM read and
one paginated query of the records. Scalable targets are read only for services being stopped (50 a call).
Actions run in a bounded pool under a client-side rate limit; one service failing never stops the others.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from steward.adapters import ecs as ecs_actions
from steward.adapters import holding
from steward.adapters import slack as slack_actions
from steward.adapters.ecs import Ecs
from steward.adapters.holding import Holds, WriteLimits
from steward.adapters.state import Key, StateUnavailable
from steward.domain import slack as blocks
from steward.domain.off_hours import Action, Decision, decide
from steward.domain.schedules import Desired, Schedule, ScheduleError, parse_schedules
from steward.domain.services import CHANNEL_TAG, OffHoursRecord, RestoreRecord, ServiceView
from steward.observability import logger, metrics
from steward.runtime import Runtime
from steward.settings import OffHoursSettings

IAM_ACTIONS = ecs_actions.INVENTORY_ACTIONS | holding.RESTORE_ACTIONS | slack_actions.IAM_ACTIONS | {"ssm:GetParameter"}


@dataclass(frozen=True)
class Outcome:
    service: ServiceView
    decision: Decision
    done: bool = False
    error: str | None = None

    def line(self) -> str:
        status = f"failed: {self.error}" if self.error else self.decision.reason
        return f"`{blocks.escape(self.service.key)}` — {blocks.escape(status)}"


# ------------------------------------------------------------------------------------------ the tick


def load_schedules(rt: Runtime[OffHoursSettings]) -> tuple[dict[str, Schedule], str | None]:
    try:
        response = rt.aws.ssm.get_parameter(Name=rt.settings.schedules_parameter)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return {}, f"schedules parameter {rt.settings.schedules_parameter} does not exist"
        raise
    try:
        return parse_schedules(response["Parameter"]["Value"]), None
    except ScheduleError as error:
        return {}, str(error)


def inventory(ecs: Ecs, records: dict[str, OffHoursRecord]) -> list[ServiceView]:
    """Every service in every cluster, plus a 'gone' view for records whose service or cluster disappeared."""
    views = ecs.all_services()
    seen = {view.key for view in views if view.exists}
    for key in records.keys() - seen:
        cluster, _, name = key.partition("/")
        views.append(ServiceView(cluster=cluster, name=name, arn="", desired_count=0, tags={}, exists=False))
    return [view for view in views if view.schedule_name or view.key in records]


Planned = list[tuple[ServiceView, Decision, Desired | None]]


def plan_tick(rt: Runtime[OffHoursSettings], ecs: Ecs, now: datetime) -> Planned | str:
    """What a tick at `now` would do to each tagged service, and why; or why the schedules cannot be used."""
    schedules, document_problem = load_schedules(rt)
    if document_problem is not None:
        return document_problem
    records = Holds(ecs, rt.state, WriteLimits.per_second(1)).records()
    services = inventory(ecs, records)
    desired_by_schedule: dict[str, Desired | None] = {name: s.desired_at(now) for name, s in schedules.items()}

    decisions: Planned = []
    for service in services:
        name = service.schedule_name
        problem = f"unknown schedule {name!r}" if name and name not in schedules else None
        desired = desired_by_schedule.get(name) if name else None
        decisions.append((service, decide(service, desired, records.get(service.key), now, problem), desired))
    return decisions


def run_tick(rt: Runtime[OffHoursSettings], now: datetime) -> dict[str, Any]:
    ecs = Ecs(rt.aws)
    decisions = plan_tick(rt, ecs, now)
    if isinstance(decisions, str):
        report_broken_document(rt, decisions)
        return {"outcome": "schedules-invalid", "reason": decisions, "changed": 0}

    to_stop = [(s, d) for s, d, _ in decisions if d.action is Action.STOP and d.restore is None]
    targets = ecs.scalable_targets((s.cluster, s.name) for s, _ in to_stop) if to_stop else {}

    holds = Holds(ecs, rt.state, WriteLimits.per_second(rt.settings.writes_per_second))

    def act(item: tuple[ServiceView, Decision, Desired | None]) -> Outcome:
        service, decision, desired = item
        if decision.action in (Action.NONE, Action.SKIP) or rt.settings.dry_run:
            return Outcome(service, decision)
        try:
            if decision.action is Action.STOP:
                restore = decision.restore or RestoreRecord(
                    desired_count=service.desired_count,
                    target=targets.get(service.key),
                    stopped_at=now,
                    stopped_by="schedule",
                    edge_id=desired.edge_id if desired else "",
                )
                if decision.restore is None and not holds.claim(service, restore):
                    return Outcome(service, Decision(Action.SKIP, "another run is already stopping it"))
                holds.stop(service, restore)
            elif decision.action is Action.START and decision.restore is not None:
                holds.restore(service, decision.restore, keep_count=decision.keep_count, now=now)
            elif decision.action is Action.MARK and desired is not None:
                holds.mark(service, desired.edge_id, now)
        except (ClientError, BotoCoreError, StateUnavailable) as error:
            logger.warning(
                "off-hours action failed",
                extra={"service": service.key, "action": decision.action, "error": str(error)},
            )
            return Outcome(service, decision, error=_short(error))
        return Outcome(service, decision, done=True)

    with ThreadPoolExecutor(max_workers=rt.settings.max_concurrency) as pool:
        outcomes = list(pool.map(act, decisions))

    return report(rt, outcomes, now)


def report(rt: Runtime[OffHoursSettings], outcomes: list[Outcome], now: datetime) -> dict[str, Any]:
    dry = rt.settings.dry_run
    acted = [o for o in outcomes if o.decision.action in (Action.STOP, Action.START) and not o.error]
    stopped = [o for o in acted if o.decision.action is Action.STOP]
    started = [o for o in acted if o.decision.action is Action.START]
    skipped = [o for o in outcomes if o.decision.action is Action.SKIP]
    failed = [o for o in outcomes if o.error]

    for name, group in (
        ("ServicesStopped", stopped),
        ("ServicesStarted", started),
        ("ServicesSkipped", skipped),
        ("ServicesFailed", failed),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=len(group))
    for outcome in outcomes:
        # Services left as they are are the bulk of every tick: they log at DEBUG to keep log volume flat.
        log = logger.debug if outcome.decision.action is Action.NONE and not outcome.error else logger.info
        log(
            "off-hours decision",
            extra={
                "service": outcome.service.key,
                "action": outcome.decision.action,
                "reason": outcome.decision.reason,
                "done": outcome.done,
                "error": outcome.error,
                "dry_run": dry,
            },
        )

    if acted or failed:
        by_channel: dict[str | None, list[Outcome]] = defaultdict(list)
        for outcome in outcomes:
            by_channel[None].append(outcome)
            if channel := outcome.service.tags.get(CHANNEL_TAG):
                by_channel[channel].append(outcome)
        for channel, group in by_channel.items():
            if any(o in acted or o in failed for o in group):
                rt.slack.post(tick_message(group, now, dry, channel))

    def lines(group: list[Outcome]) -> list[dict[str, str]]:
        return [{"service": o.service.key, "reason": o.error or o.decision.reason} for o in group]

    return {
        "outcome": "dry-run" if dry else "ok",
        "now": now.isoformat(),
        "stopped": lines(stopped),
        "started": lines(started),
        "skipped": lines(skipped),
        "failed": lines(failed),
        "unchanged": len(outcomes) - len(acted) - len(skipped) - len(failed),
        "changed": 0 if dry else len(acted),
    }


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


def report_broken_document(rt: Runtime[OffHoursSettings], problem: str) -> None:
    """Log every tick; post to Slack once per distinct problem."""
    logger.error("schedules document unusable; nothing changed", extra={"problem": problem})
    metrics.add_metric(name="ScheduleErrors", unit=MetricUnit.Count, value=1)
    digest = hashlib.sha256(problem.encode()).hexdigest()[:16]
    first_time = rt.settings.dry_run or rt.state.put_new(
        Key(pk="schedules", sk=f"problem#{digest}"),
        {"problem": problem[:1000]},
        expires=datetime.now(UTC) + timedelta(days=30),
    )
    if first_time:
        text = f"Off-hours paused: {problem}"
        rt.slack.post(
            blocks.SlackMessage(
                text=text,
                blocks=(
                    blocks.header("Off-hours paused: schedules document is broken"),
                    blocks.section(blocks.escape(problem)),
                    blocks.context("Nothing is stopped or started until the SSM parameter is fixed."),
                ),
            )
        )


def _short(error: Exception) -> str:
    if isinstance(error, ClientError):
        return f"{error.response['Error'].get('Code')}: {error.response['Error'].get('Message', '')}"[:300]
    return str(error)[:300]
