"""One off-hours tick: observe the schedules, the services and Steward's records; decide per service; plan the
changes; apply them; report.

Requests: ListClusters, ListServices (100 a page), DescribeServices (10 a call, tags included), DescribeDBInstances
and DescribeDBClusters (100 a page, tags included), one SSM read and one paginated query of the records (services'
and databases'). Scalable targets are read only for services being stopped (50 a call).
A dry run also queries its report markers and writes one for each would-be stop or start it reports.
Changes run in a bounded pool under a client-side rate limit; one service failing never stops the others.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError
from msgspec import Struct
from msgspec.structs import replace

from steward.adapters import db_holds, dry_runs, edge_notices, holding, rds, reconcile, tag_notices
from steward.adapters import ecs as ecs_actions
from steward.adapters import pause as pause_actions
from steward.adapters import schedules as schedules_actions
from steward.adapters import slack as slack_actions
from steward.adapters.aws import is_transient
from steward.adapters.db_holds import DatabaseHoldClaim, DatabaseHolds, RestopClaim
from steward.adapters.dry_runs import DryRunEdges, as_left, databases_as_left
from steward.adapters.ecs import Ecs
from steward.adapters.edge_notices import EdgeNotices
from steward.adapters.holding import HoldClaim, Holds, WriteLimits
from steward.adapters.rds import Rds
from steward.adapters.schedules import SchedulesDocument, Unusable
from steward.adapters.state import StateUnavailable
from steward.adapters.tag_notices import TagNotices
from steward.apply import REPORTED, Applied, Change, Status, apply
from steward.domain.databases import DbAction, DbVerdict, decide_databases
from steward.domain.edges import not_back, upcoming_stops
from steward.domain.off_hours import Action, Verdict, decide_each, in_scope, only_restores
from steward.domain.reconcile import Fingerprint, Marker, idle_reason, next_due
from steward.domain.scope import Scope
from steward.domain.services import ServiceView, TagProblem
from steward.models.off_hours import RdsEvent
from steward.observability import logger, metrics
from steward.reports.edges import heads_up_messages, not_back_messages
from steward.reports.off_hours import DbOutcome, Outcome, TickReport, paused_message
from steward.reports.tags import invalid_tags_messages
from steward.runtime import Runtime
from steward.settings.off_hours import OffHoursSettings

IAM_ACTIONS = (
    ecs_actions.SCOPE_ACTIONS
    | holding.RESTORE_ACTIONS
    | slack_actions.IAM_ACTIONS
    | schedules_actions.IAM_ACTIONS
    | tag_notices.IAM_ACTIONS
    | dry_runs.IAM_ACTIONS
    | pause_actions.IAM_ACTIONS  # the handler reads the pause switch before the tick
    | edge_notices.IAM_ACTIONS
    | rds.FIND_ACTIONS
    | rds.STOP_START_ACTIONS
    | db_holds.IAM_ACTIONS
    | reconcile.IAM_ACTIONS
)
RESTORE_LOOKBACK = timedelta(
    hours=1
)  # restores this much older than the come-back delay are still checked (a missed tick)


class Adapters(Struct, frozen=True):
    ecs: Ecs
    holds: Holds
    schedules: SchedulesDocument
    dry_runs: DryRunEdges
    rds: Rds
    db_holds: DatabaseHolds


def connect(rt: Runtime[OffHoursSettings]) -> Adapters:
    ecs, database = Ecs(rt.aws), Rds(rt.aws)
    limits = WriteLimits.per_second(rt.settings.writes_per_second)
    return Adapters(
        ecs,
        Holds(ecs, rt.state, limits),
        SchedulesDocument(rt.aws, rt.state, rt.settings.schedules_parameter),
        DryRunEdges(rt.state, active=rt.settings.dry_run),
        database,
        DatabaseHolds(database, rt.state, limits.ecs),
    )


class Observed(Struct, frozen=True):
    """What one tick decided: for each service, and for each database."""

    services: list[Verdict]
    databases: list[DbVerdict]


# ------------------------------------------------------------------------------------------ the tick


def plan_tick(rt: Runtime[OffHoursSettings], now: datetime) -> Observed | Unusable:
    """What a tick at `now` decides for each tagged service and database in the stack's scope, and why; or why the
    schedules cannot be used."""
    return observe_and_decide(connect(rt), rt.settings.scope, now)


def observe_and_decide(
    adapters: Adapters, scope: Scope, now: datetime, items: list[dict[str, Any]] | None = None
) -> Observed | Unusable:
    """The services and databases in scope, and those this stack holds that have left it since (they only come
    back). A database waits for the services of its schedule: it is decided against what they run now."""
    schedules = adapters.schedules.read()
    if isinstance(schedules, Unusable):
        return schedules
    items = adapters.holds.items() if items is None else items
    real = adapters.holds.records(items)
    # A dry run decides against the holds it reported, as the live run decides against the ones it wrote.
    pretend = adapters.dry_runs.pretend_holds(now, held=real)
    records = {**pretend, **real}
    services = adapters.ecs.services_in(scope, [key for key, record in records.items() if record.restore])
    outside = {view.key: view for view in services.outside_held}
    inside = {view.key for view in services.inside}
    ours = {key: record for key, record in records.items() if record.restore or key in inside}
    views = as_left(in_scope([*services.inside, *outside.values()], ours), pretend)
    verdicts = decide_each(views, schedules, ours, now)
    service_verdicts = [
        only_restores(v, f"outside this stack's scope ({scope.label})") if v.service.key in outside else v
        for v in verdicts
    ]
    real_dbs = adapters.db_holds.records(items)
    pretend_dbs = {
        key: record
        for key, record in adapters.dry_runs.database_holds.items()
        if key not in real_dbs or real_dbs[key].hold is None
    }
    db_records = {**real_dbs, **pretend_dbs}
    held_dbs = {key for key, record in db_records.items() if record.hold is not None}
    databases = databases_as_left(adapters.rds.databases_in(scope, held_dbs), pretend_dbs)
    # A database waits for its services as this tick sees them (in a dry run, as the reported stops left them).
    return Observed(service_verdicts, decide_databases(databases, schedules, db_records, views, now))


def run_tick(rt: Runtime[OffHoursSettings], now: datetime) -> dict[str, Any]:
    """An idle tick (nothing due, nothing changed since the last full reconcile) reads only the tag sweep, the
    records and the schedules; any other tick reconciles every service and database."""
    adapters, dry_run = connect(rt), rt.settings.dry_run
    items = adapters.holds.items()
    schedules = adapters.schedules.read()
    if isinstance(schedules, Unusable):
        return report_unusable(rt, adapters, schedules, dry_run)
    if dry_run:
        # A dry run writes nothing but its report markers: it reconciles every tick.
        return reconcile_all(rt, adapters, items, reconcile.Sweep({}), now)[0]
    swept = reconcile.sweep(rt.aws)
    deployed = f"{adapters.schedules.version}|{reconcile.settings_digest(rt.settings)}"
    fingerprint = Fingerprint(swept.digest, reconcile.records_digest(items), deployed)
    quiet = idle_reason(reconcile.marker_in(items), fingerprint, now)
    if quiet is not None:
        # A log field, not a metric: a metric sent every idle tick would bill a whole metric-month.
        logger.info("idle tick", extra={"outcome": "idle", "reason": quiet})
        return {**TickReport([], now, dry_run).result(), "outcome": "idle", "reason": quiet}
    result, due = reconcile_all(rt, adapters, items, swept, now)
    _remember(rt, Marker(fingerprint, due, now))
    return result


def reconcile_all(
    rt: Runtime[OffHoursSettings],
    adapters: Adapters,
    items: list[dict[str, Any]],
    swept: reconcile.Sweep,
    now: datetime,
) -> tuple[dict[str, Any], datetime]:
    """Every service and database decided and acted on; and the first instant the next full reconcile is due."""
    dry_run = rt.settings.dry_run
    observed = observe_and_decide(adapters, rt.settings.scope, now, items)
    if isinstance(observed, Unusable):
        return report_unusable(rt, adapters, observed, dry_run), now
    verdicts = observed.services
    changes = plan(with_targets(verdicts, adapters.ecs), adapters.holds, adapters.dry_runs, now)
    db_changes = [plan_database(verdict, adapters, now) for verdict in observed.databases]
    with ThreadPoolExecutor(max_workers=rt.settings.max_concurrency) as pool:
        outcomes = list(pool.map(partial(act, dry_run=dry_run), changes))
        db_outcomes = list(pool.map(partial(act_on_database, adapters=adapters, now=now, dry_run=dry_run), db_changes))
    say_invalid_tags(rt, observed, now)
    checks = say_around_edges(rt, adapters, verdicts, now)
    tick = TickReport(outcomes, now, dry_run, databases=db_outcomes)
    due = due_next(
        rt, adapters=adapters, observed=observed, tick=tick, items=items, swept=swept, checks=checks, now=now
    )
    return report(rt, tick), due


def due_next(
    rt: Runtime[OffHoursSettings],
    *,
    adapters: Adapters,
    observed: Observed,
    tick: TickReport,
    items: list[dict[str, Any]],
    swept: reconcile.Sweep,
    checks: list[datetime],
    now: datetime,
) -> datetime:
    """At once while anything is in motion (a failure, a deployment, a database between states; an interrupted stop
    is a change this tick makes); else the next edge, lead, heads-up, keep-awake end, budget hold end or come-back
    check."""
    in_motion = (
        any(o.error for o in tick.outcomes)
        or any(o.error for o in tick.databases)
        or any(v.decision.retry for v in observed.services)
        or any(v.decision.retry for v in observed.databases)
    )
    if in_motion:
        return now
    schedules = adapters.schedules.read()
    if any(v.invalid for v in observed.services) or any(v.invalid for v in observed.databases):
        # An unreadable tag value is said once a day: the next (UTC) day's first tick says it again.
        checks = [*checks, datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(0), tzinfo=UTC)]
    holds_until = [datetime.fromisoformat(str(item["hold_until"])) for item in items if item.get("hold_until")]
    return next_due(
        now,
        schedules.values() if not isinstance(schedules, Unusable) else (),
        swept.tag_sets.values(),
        holds_until,
        checks,
        heads_up=timedelta(minutes=rt.settings.heads_up_minutes),
    )


def _remember(rt: Runtime[OffHoursSettings], marker: Marker) -> None:
    """A marker that cannot be written only costs the next tick a full reconcile."""
    try:
        reconcile.remember(rt.state, marker)
    except REPORTED as error:
        logger.warning("reconcile marker not recorded", extra={"error": str(error)})


def on_database_event(rt: Runtime[OffHoursSettings], event: RdsEvent) -> dict[str, Any]:
    """AWS starting a database it held stopped for seven days is noted, so the first look at it once it is available
    stops it again; a database started (by AWS or by hand) is decided at once if this stack holds it. A database it
    does not hold is left to the next tick, which sees its services too."""
    adapters, now, key = connect(rt), event.time, event.database_key
    holds = adapters.db_holds
    record = holds.records(adapters.holds.items()).get(key)
    logger.info("database event", extra={"database": key, "event": event.detail.event_id, "held": bool(record)})
    if record is None or record.hold is None:
        return {"outcome": "not-held", "database": key, "changed": 0}
    if event.auto_starting:
        # Said in the log only: the tick that stops it again says so in Slack.
        noted = rt.settings.dry_run or holds.note_auto_start(key, now)
        return {"outcome": "noted" if noted else "already-noted", "database": key, "changed": 0}
    schedules = adapters.schedules.read()
    if isinstance(schedules, Unusable):
        return report_unusable(rt, adapters, schedules, rt.settings.dry_run)
    verdicts = decide_databases([adapters.rds.database(key)], schedules, {key: record}, [], now)
    act_on = partial(act_on_database, adapters=adapters, now=now, dry_run=rt.settings.dry_run)
    outcomes = [act_on(plan_database(verdict, adapters, now)) for verdict in verdicts]
    return report(rt, TickReport([], now, rt.settings.dry_run, databases=outcomes))


def with_targets(verdicts: list[Verdict], ecs: Ecs) -> list[Verdict]:
    """A new hold records the service's scalable target, read only for the services being stopped."""
    stopping = [verdict.service for verdict in verdicts if verdict.decision.new_hold]
    targets = ecs.scalable_targets((service.cluster, service.name) for service in stopping) if stopping else {}
    return [verdict.with_target(targets.get(verdict.service.key)) for verdict in verdicts]


def plan(verdicts: list[Verdict], holds: Holds, dry_runs: DryRunEdges, now: datetime) -> list[Change[Verdict]]:
    """Each change, and the claim that makes a dry run report it once per edge."""
    return [
        replace(change(verdict, holds, now), dry_run_claim=dry_runs.claim(verdict.service, verdict.decision, now))
        for verdict in verdicts
    ]


def change(verdict: Verdict, holds: Holds, now: datetime) -> Change[Verdict]:
    service, decision = verdict.service, verdict.decision
    restore = decision.restore
    if decision.action is Action.STOP and restore is not None:
        # An interrupted stop's record is already stored: only a new hold has a record to claim.
        claim = HoldClaim(holds, service, restore) if decision.new_hold else None
        return Change(verdict, make=partial(holds.stop, service, restore), claim=claim)
    if decision.action is Action.START and restore is not None:
        start = partial(holds.restore, service, restore, keep_count=decision.keep_count, now=now)
        return Change(verdict, make=start)
    if decision.action is Action.MARK:
        return Change(verdict, make=partial(holds.mark, service, decision.edge_id, now))
    return Change(verdict)


def plan_database(verdict: DbVerdict, adapters: Adapters, now: datetime) -> Change[DbVerdict]:
    """A new hold is claimed by writing it; a held database AWS started is stopped again by the one run that moves
    its last stop; a dry run reports each would-be change once per edge."""
    db, decision, holds = verdict.database, verdict.decision, adapters.db_holds
    hold = decision.hold
    reported = adapters.dry_runs.claim_database(db.key, decision.action, decision.hold, decision.edge_id, now)
    if decision.action is DbAction.STOP and hold is not None:
        claim = DatabaseHoldClaim(holds, db, hold) if decision.new_hold else RestopClaim(holds, db, hold, now)
        return Change(verdict, make=partial(holds.stop, db, hold, now), claim=claim, dry_run_claim=reported)
    if decision.action is DbAction.START and hold is not None:
        return Change(verdict, make=partial(holds.start, db, hold, now), dry_run_claim=reported)
    if decision.action is DbAction.RELEASE and hold is not None:
        return Change(verdict, make=partial(holds.release, db, hold, now))
    if decision.action is DbAction.MARK:
        return Change(verdict, make=partial(holds.mark, db, decision.edge_id, now))
    return Change(verdict)


def act_on_database(planned: Change[DbVerdict], *, adapters: Adapters, now: datetime, dry_run: bool) -> DbOutcome:
    """A database AWS refuses to stop for good is tried again at the next off edge, never every tick."""
    applied = apply(planned, dry_run=dry_run, raise_transient=False)
    if applied.status is not Status.FAILED:
        return DbOutcome(applied)
    verdict, cause = applied.decision, applied.cause
    logger.warning(
        "off-hours database action failed",
        extra={"database": verdict.database.key, "action": verdict.decision.action, "error": applied.error},
    )
    hold = verdict.decision.hold
    lasting = isinstance(cause, Exception) and not is_transient(cause) and not isinstance(cause, StateUnavailable)
    if verdict.decision.action is DbAction.STOP and hold is not None and lasting:
        _remember_refusal(adapters, applied, hold.edge_id, now)
    return DbOutcome(applied, error=_short(cause))


def _remember_refusal(adapters: Adapters, applied: Applied[DbVerdict], edge_id: str, now: datetime) -> None:
    db = applied.decision.database
    try:
        adapters.db_holds.mark(db, edge_id, now, refused=_short(applied.cause))
    except REPORTED as error:
        logger.warning("database refusal not recorded", extra={"database": db.key, "error": str(error)})


def act(planned: Change[Verdict], *, dry_run: bool) -> Outcome:
    # One service's AWS error is reported, never raised: the next tick retries it (its hold claim stays, see HoldClaim).
    applied = apply(planned, dry_run=dry_run, raise_transient=False)
    if applied.status is not Status.FAILED:
        return Outcome(applied)
    verdict = applied.decision
    logger.warning(
        "off-hours action failed",
        extra={"service": verdict.service.key, "action": verdict.decision.action, "error": applied.error},
    )
    return Outcome(applied, error=_short(applied.cause))


def report(rt: Runtime[OffHoursSettings], tick: TickReport) -> dict[str, Any]:
    for name, count in tick.counts().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    for outcome in tick.outcomes:
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
                "dry_run": tick.dry_run,
            },
        )
    for db in tick.databases:
        log = logger.debug if db.decision.action is DbAction.NONE and not db.error else logger.info
        log(
            "off-hours database decision",
            extra={
                "database": db.database.key,
                "action": db.decision.action,
                "reason": db.decision.reason,
                "done": db.applied.status is Status.DONE,
                "error": db.error,
                "dry_run": tick.dry_run,
            },
        )
    for message in tick.messages():
        rt.slack.post(message)
    return tick.result()


def report_unusable(
    rt: Runtime[OffHoursSettings], adapters: Adapters, unusable: Unusable, dry_run: bool
) -> dict[str, Any]:
    """Log every tick; post to Slack once per distinct problem."""
    logger.error("schedules document unusable; nothing changed", extra={"problem": unusable.problem})
    metrics.add_metric(name="ScheduleErrors", unit=MetricUnit.Count, value=1)
    # The notice is the only change: its claim makes it once per problem, in a dry run too.
    first = adapters.schedules.first_notice(unusable)
    notice = Change(unusable, make=_announced, claim=first, dry_run_claim=first)
    if apply(notice, dry_run=dry_run).changed:
        rt.slack.post(paused_message(unusable.problem))
    return {"outcome": "schedules-invalid", "reason": unusable.problem, "changed": 0}


def say_around_edges(
    rt: Runtime[OffHoursSettings], adapters: Adapters, verdicts: list[Verdict], now: datetime
) -> list[datetime]:
    """A heads-up before the next off edge stops services, and an alert for each service a start restored that has
    not come back; each said once. Both read what the tick already read, plus one Query of the recent restores.
    Returns when the restores too recent to check are due for their check."""
    settings, notices = rt.settings, EdgeNotices(rt.state, adapters.holds)
    views = [verdict.service for verdict in verdicts]
    try:
        schedules = adapters.schedules.read()  # the tick's own read, again: no request
        lead = timedelta(minutes=settings.heads_up_minutes)
        if settings.heads_up_minutes and not isinstance(schedules, Unusable):
            for heads_up in upcoming_stops(views, schedules, now, lead):
                if notices.first_heads_up(heads_up.schedule, heads_up.edge.at, now):
                    for message in heads_up_messages(heads_up, now, settings.aws_region, dry_run=settings.dry_run):
                        rt.slack.post(message)
        due = now - timedelta(minutes=settings.come_back_minutes)
        recent = notices.restored_since(due - RESTORE_LOOKBACK)
        checks = [hold.end + (now - due) for hold in recent if hold.end > due]
        restored = [hold for hold in recent if hold.end <= due]
        for found in not_back(restored, {view.key: view for view in views}):
            metrics.add_metric(name="ServicesNotBack", unit=MetricUnit.Count, value=1)
            if notices.first_not_back(found.service.key, found.restored_at, now):
                for message in not_back_messages(found, settings.aws_region, dry_run=settings.dry_run):
                    rt.slack.post(message)
    except REPORTED as error:
        # What is said around an edge never fails the tick's actions.
        logger.warning("edge notices not recorded", extra={"error": str(error)})
        return [now]  # the checks not made are made at the next tick
    return checks


def say_invalid_tags(rt: Runtime[OffHoursSettings], observed: Observed, now: datetime) -> None:
    """Log and count every unreadable tag value on a service or database each tick; post each to Slack once a day
    (a dry run too: the marker records only what was said)."""
    problems = [TagProblem(v.service, invalid) for v in observed.services for invalid in v.invalid]
    problems += [TagProblem(v.database, invalid) for v in observed.databases for invalid in v.invalid]
    if not problems:
        return
    metrics.add_metric(name="InvalidTags", unit=MetricUnit.Count, value=len(problems))
    for problem in problems:
        named = "service" if isinstance(problem.resource, ServiceView) else "database"
        logger.warning("invalid tag", extra={named: problem.resource.key, "reason": problem.invalid.sentence()})
    try:
        fresh = TagNotices(rt.state).first_today(problems, now)
    except REPORTED as error:
        # The notice is a report: a state table that cannot take its marker never fails the tick's actions.
        logger.warning("invalid tags notice not recorded", extra={"error": str(error)})
        return
    for message in invalid_tags_messages(fresh, now):
        rt.slack.post(message)


def _announced() -> None:
    """Posting the notice is the report's part; the claim already recorded the problem."""


def _short(error: BaseException | None) -> str:
    if isinstance(error, ClientError):
        return f"{error.response['Error'].get('Code')}: {error.response['Error'].get('Message', '')}"[:300]
    return str(error)[:300]
