"""Bring back every service Steward holds at zero, exactly as a start edge does (recorded desired count, scalable
target limits and suspended state), for `steward restore-all` and for the stack's own deletion: a service must never
stay at zero because Steward went away. Safe to run twice and after a partial failure: each hold is re-read with a
consistent read before it is restored, and one that is gone is reported, not guessed at."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from steward.adapters import db_holds, holding, rds
from steward.adapters import slack as slack_actions
from steward.adapters import stack as stack_actions
from steward.adapters import state as state_actions
from steward.adapters.aws import RateLimiter
from steward.adapters.db_holds import DatabaseHolds
from steward.adapters.ecs import Ecs
from steward.adapters.holding import Holds, WriteLimits
from steward.adapters.inventory import Inventory
from steward.adapters.rds import Rds
from steward.adapters.spot_ecs import SpotEcs
from steward.adapters.spot_episodes import SpotEpisodes
from steward.adapters.stack import Stack, answer
from steward.adapters.state import StateUnavailable
from steward.apply import Change, Status, apply
from steward.domain.databases import DatabaseHold, DatabaseView
from steward.domain.off_hours import Action, decide_restore
from steward.domain.services import RestoreRecord, ServiceView
from steward.domain.spot import describe_strategy
from steward.models.cloudformation import StackRequest
from steward.observability import logger, metrics
from steward.reports import restore as report
from steward.runtime import Runtime
from steward.settings.restore_on_delete import RestoreOnDeleteSettings
from steward.shift_back import ShiftBack, shift_back_one

IAM_ACTIONS = (
    frozenset({"ecs:DescribeServices"})
    | holding.RESTORE_ACTIONS
    | {state_actions.READ}
    | stack_actions.IAM_ACTIONS
    | slack_actions.IAM_ACTIONS
    | rds.FIND_ACTIONS
    | rds.START_ACTIONS
    | {db_holds.DELETE_ACTION, state_actions.WRITE}
    # Spot episodes: read, each service's strategy put back, the episode forgotten.
    | {"ecs:DescribeServices", "ecs:UpdateService", state_actions.QUERY, state_actions.DELETE}
)
BLOCKING = {"failed"}  # AWS refused: a retry of the delete can still bring it back. A service that is gone cannot.
LEFT = {"failed", "deferred", "waiting"}  # a Spot episode whose service stays on on-demand
ZERO = timedelta(0)

Row = dict[str, str]
Answer = Literal["SUCCESS", "FAILED"]
FAILED_OUTCOMES = {"failed", "not restored", "deferred", "waiting"}  # the service is still held, or still on on-demand


def row(emit: Callable[[Row], None], kind: str, cluster: str, service: str, *, outcome: str, what: str) -> Row:
    """One service's outcome, handed to `emit` as soon as it is known (a long run shows its progress)."""
    entry = {"kind": kind, "cluster": cluster, "service": service, "outcome": outcome, "what": what}
    emit(entry)
    return entry


def utc(moment: datetime | None) -> str:
    """Every instant an operator reads: UTC, to the second, with a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "-"


def scaling_target(restore: RestoreRecord) -> str:
    target = restore.target
    if target is None:
        return ""
    suspended = [name for name, on in sorted(target.suspended.items()) if on]
    scaling = f", scaling suspended as it was ({', '.join(suspended)})" if suspended else ""
    return f"auto scaling min {target.min_capacity} max {target.max_capacity}{scaling}"


def restore_holds(
    holds: Holds, inventory: Inventory, ecs: Ecs, now: datetime, *, dry_run: bool, emit: Callable[[Row], None]
) -> list[Row]:

    held = {key: record.restore for key, record in holds.records().items() if record.restore is not None}
    views = _live_views(ecs, sorted(held))
    rows: list[Row] = []
    for key in sorted(held):
        cluster, _, name = key.partition("/")
        restore = inventory.held_now(cluster, name)  # a consistent read: another run may have restored it meanwhile
        if restore is None:
            rows.append(row(emit, "hold", cluster, name, outcome="already restored", what="nothing held any more"))
            continue
        view = views[key]
        reason = f"held at zero by {restore.stopped_by} since {utc(restore.stopped_at)}"
        decision = decide_restore(view, restore, now, reason)
        if decision.action is not Action.START:
            rows.append(row(emit, "hold", cluster, name, outcome="not restored", what=f"{decision.reason}; still held"))
            continue
        bring_back = partial(_restore_hold, holds, view, restore, keep_count=decision.keep_count, now=now)
        applied = apply(Change(decision, make=bring_back), dry_run=dry_run, raise_transient=False)
        what = _restored(restore, view, keep_count=decision.keep_count)
        if applied.status is Status.FAILED:
            rows.append(row(emit, "hold", cluster, name, outcome="failed", what=f"{_short(applied.cause)}; still held"))
        else:
            outcome = "would restore" if applied.status is Status.DRY_RUN else "restored"
            rows.append(row(emit, "hold", cluster, name, outcome=outcome, what=what))
    return rows


def restore_databases(
    holds: Holds,
    database_holds: DatabaseHolds,
    found: Rds,
    now: datetime,
    *,
    dry_run: bool,
    emit: Callable[[Row], None],
) -> list[Row]:
    """Every database Steward holds stopped, started (or its hold let go when it is already up); its off edge marked
    handled so the next tick does not stop it again. One still stopping cannot be started yet: it fails the run."""
    rows: list[Row] = []
    for key, record in sorted(database_holds.records(holds.items()).items()):
        hold = record.hold
        if hold is None:
            continue
        kind, _, identifier = key.partition("/")
        db = found.database(key)
        since = f"held stopped by {hold.stopped_by} since {utc(hold.stopped_at)}"
        if not db.exists:
            rows.append(row(emit, "database", kind, identifier, outcome="gone", what=f"{since}; RDS no longer has it"))
            continue
        if db.status == "stopped":
            start: Callable[[], None] = partial(_start_database, database_holds, db, hold, now)
            outcome, what = "restored", f"started ({since})"
        elif db.status in ("available", "starting"):
            start = partial(database_holds.release, db, hold, now)
            outcome, what = "restored", f"already {db.status}; hold let go ({since})"
        else:
            what = f"{db.status} now: start it once it is stopped (aws rds start-db-{kind} ...); still held"
            rows.append(row(emit, "database", kind, identifier, outcome="failed", what=what))
            continue
        applied = apply(Change(db, make=start), dry_run=dry_run, raise_transient=False)
        if applied.status is Status.FAILED:
            outcome, what = "failed", f"{_short(applied.cause)}; still held"
        elif applied.status is Status.DRY_RUN:
            outcome = "would restore"
        rows.append(row(emit, "database", kind, identifier, outcome=outcome, what=what))
    return rows


def _start_database(database_holds: DatabaseHolds, db: DatabaseView, hold: DatabaseHold, now: datetime) -> None:
    database_holds.start(db, hold, now)
    database_holds.mark(db, hold.edge_id, now)


def _restore_hold(holds: Holds, view: ServiceView, restore: RestoreRecord, *, keep_count: bool, now: datetime) -> None:
    """As a start edge restores; then the off edge is marked handled, so the next tick does not stop it again."""
    holds.restore(view, restore, keep_count=keep_count, now=now)
    holds.mark(view, restore.edge_id, now)


def _live_views(ecs: Ecs, keys: list[str]) -> dict[str, ServiceView]:
    """What ECS says about each held service now; a service (or cluster) that is gone reads as gone."""
    by_cluster: dict[str, list[str]] = {}
    for key in keys:
        cluster, _, name = key.partition("/")
        by_cluster.setdefault(cluster, []).append(name)
    views: dict[str, ServiceView] = {}
    for cluster, names in by_cluster.items():
        try:
            views.update({view.key: view for view in ecs.describe(cluster, names) if view.exists})
        except ClientError as error:
            # DescribeServices on a deleted cluster (ECS API Reference, DescribeServices: ClusterNotFoundException).
            if error.response.get("Error", {}).get("Code") != "ClusterNotFoundException":
                raise
    for key in keys:
        if key not in views:
            cluster, _, name = key.partition("/")
            views[key] = ServiceView(cluster=cluster, name=name, arn="", desired_count=0, tags={}, exists=False)
    return views


def _restored(restore: RestoreRecord, view: ServiceView, *, keep_count: bool) -> str:
    target = scaling_target(restore)
    if keep_count:
        kept = f"desired count left at {view.desired_count} (scaled up by hand while held)"
        return f"{target}; {kept}" if target else kept
    count = f"desired count {restore.desired_count}"
    return f"{count}; {target}" if target else count


def _short(error: BaseException | None) -> str:
    if isinstance(error, ClientError):
        return f"{error.response['Error'].get('Code')}: {error.response['Error'].get('Message', '')}"[:300]
    return str(error)[:300]


def on_stack_request(rt: Runtime[RestoreOnDeleteSettings], request: StackRequest, now: datetime) -> dict[str, str]:
    """The stack's restore-on-delete resource: when the stack itself is being deleted, every service Steward holds at
    zero comes back first; the delete fails (and can be retried) while AWS refuses one. Always answers CloudFormation,
    which otherwise waits for the resource's timeout."""
    physical_id = request.physical_resource_id or f"{request.logical_resource_id}-{rt.settings.environment}"
    status: Answer
    try:
        status, reason = _on_request(rt, request, now)
    except Exception as error:  # the answer must go out whatever failed; the error is logged with its traceback
        logger.exception("restore on delete failed", extra={"request_type": request.request_type})
        status, reason = "FAILED", f"Steward could not restore the services it holds: {error}"[:1000]
    answer(request, status, reason, physical_id)
    return {"outcome": status.lower(), "reason": reason}


def _on_request(rt: Runtime[RestoreOnDeleteSettings], request: StackRequest, now: datetime) -> tuple[Answer, str]:
    if request.request_type != "Delete":
        return "SUCCESS", "nothing to do until the stack is deleted"
    if not Stack(rt.aws).being_deleted(request.stack_id):
        return "SUCCESS", "the resource left the template but the stack stays: its holds stay with it"
    ecs = Ecs(rt.aws)
    holds = Holds(ecs, rt.state, WriteLimits.per_second(rt.settings.writes_per_second))
    rows = restore_holds(
        holds, Inventory(rt.aws, rt.settings.state_table), ecs, now, dry_run=rt.settings.dry_run, emit=_log
    )
    database_holds = DatabaseHolds(Rds(rt.aws), rt.state, RateLimiter(rt.settings.writes_per_second))
    rows += restore_databases(holds, database_holds, Rds(rt.aws), now, dry_run=rt.settings.dry_run, emit=_log)
    # Back on Spot now: no later tick will look at Spot's stability once the stack is gone (as `restore-all`).
    dry_run = rt.settings.dry_run
    spot = ShiftBack(SpotEcs(rt.aws), SpotEpisodes(rt.state, dry_run=dry_run), None, dry_run, ZERO)
    rows += shift_back_all(spot, now, emit=_log)
    on_demand = [f"{r['cluster']}/{r['service']}" for r in rows if r["kind"] == "spot" and r["outcome"] in LEFT]
    # A service left on on-demand still runs: it does not hold up the delete, unlike one still at zero.
    blocking = [r for r in rows if r["outcome"] in BLOCKING and r["kind"] != "spot"]
    metrics.add_metric(name="RestoredOnDelete", unit=MetricUnit.Count, value=len(rows) - len(blocking))
    rt.slack.post(report.stack_deleted(rows, on_demand, dry_run=rt.settings.dry_run, blocked=bool(blocking)))
    if blocking:
        names = ", ".join(f"{r['cluster']}/{r['service']} ({r['what']})" for r in blocking)
        return "FAILED", f"Steward still holds {len(blocking)} service(s) at zero: {names}. Fix, then delete again."
    return "SUCCESS", report.summary(rows, on_demand, dry_run=rt.settings.dry_run)


def _log(entry: Row) -> None:
    logger.info("restore on delete", extra=entry)


def shift_back_all(step: ShiftBack, now: datetime, *, emit: Callable[[Row], None]) -> list[Row]:
    """Every open Spot episode's service back to its recorded strategy through the shift-back tick's own step, unless
    someone changed the strategy since; each outcome a row (kind "spot")."""
    rows: list[Row] = []
    for item in sorted(step.episodes.open_episodes(), key=lambda e: e.label):
        try:
            result, _ = shift_back_one(step, item, now)
        except StateUnavailable as error:
            what = f"{error}; still on on-demand"
            rows.append(row(emit, "spot", item.cluster, item.name, outcome="failed", what=what))
            continue
        outcome, what = _spot_outcome(result, step.dry_run, describe_strategy(item.episode.original))
        rows.append(row(emit, "spot", item.cluster, item.name, outcome=outcome, what=what))
    return rows


def _spot_outcome(result: dict[str, Any], dry_run: bool, original: str) -> tuple[str, str]:
    outcome = str(result["outcome"])
    if outcome == "shifted back":
        return ("would shift back" if dry_run else "shifted back"), f"capacity provider strategy {original}"
    if outcome == "forgotten":
        return ("would forget" if dry_run else "forgotten"), f"{result['reason']}; strategy left as it is"
    return outcome, f"{result['reason']}; still on on-demand"
