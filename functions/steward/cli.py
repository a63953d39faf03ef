"""`steward`: what Steward holds and has done, what it would do next, and bringing back everything it holds.

Works against real AWS with the usual credentials, in the region boto3 finds (AWS_DEFAULT_REGION, the profile's
config), or against any endpoint through AWS_ENDPOINT_URL: an endpoint never means "act for real" by itself.
Exit codes: 0 done, 1 something is wrong or was not done (an invalid schedules document, a service not restored),
2 bad usage or input (also an event the function does not accept, a state table that is not there), 3 AWS
unreachable or refused.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

if TYPE_CHECKING:
    from steward.adapters.aws import AwsClients
    from steward.adapters.inventory import Inventory, Snapshot
    from steward.adapters.state import StateStore
    from steward.domain.databases import DatabaseHold
    from steward.domain.services import RestoreRecord, TagProblem
    from steward.workflows.off_hours import Observed

from steward.workflows.restore import FAILED_OUTCOMES, Row, scaling_target, utc

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_AWS = 0, 1, 2, 3

FUNCTIONS = {
    "off-hours": "off_hours",
    "spot-fallback": "spot_fallback",
    "deploy-rollback": "deploy_rollback",
    "budget-alert": "budget_alert",
    "cost-report": "cost_report",
    "OffHoursFunction": "off_hours",
    "SpotFallbackFunction": "spot_fallback",
    "DeployRollbackFunction": "deploy_rollback",
    "BudgetAlertFunction": "budget_alert",
    "CostReportFunction": "cost_report",
}
RECENT_ROLLBACKS = 5  # `status` shows this many of the latest rollbacks
RESTORE_WRITES_PER_SECOND = 10.0  # restore-all's UpdateService and Auto Scaling writes, as a tick's default
DURATION = re.compile(r"^(\d+)([mhdw])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------------------------------ the command line


def _options(*, after_command: bool) -> argparse.ArgumentParser:
    """The settings options, accepted before and after the subcommand (after it, only what is given counts)."""
    options = argparse.ArgumentParser(add_help=False)
    default = argparse.SUPPRESS if after_command else None
    options.add_argument("--environment", default=default, help="dev, staging or prod (sets STEWARD_ENVIRONMENT)")
    options.add_argument(
        "--state-table", default=default, help="Steward's DynamoDB table (sets STATE_TABLE; see the stack outputs)"
    )
    options.add_argument(
        "--schedules-parameter", default=default, help="the schedules SSM parameter (sets SCHEDULES_PARAMETER)"
    )
    options.add_argument(
        "--pause-parameter", default=default, help="the pause switch's SSM parameter (sets PAUSE_PARAMETER)"
    )
    return options


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="steward",
        description="What Steward holds and has done, what it would do next, and bringing everything back.",
        parents=[_options(after_command=False)],
    )
    root.add_argument("--version", action="version", version=f"steward {_version()}")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    options = [_options(after_command=True)]

    status = commands.add_parser("status", parents=options, help="what Steward holds now, and its latest actions")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    history = commands.add_parser("history", parents=options, help="what Steward did, oldest first")
    history.add_argument(
        "--since", default="24h", help="an ISO-8601 instant (2026-11-27T19:00:00Z) or a duration: 90m, 24h, 7d, 2w"
    )
    history.add_argument("--json", action="store_true", help="machine-readable output")

    restore = commands.add_parser(
        "restore-all", parents=options, help="bring back every service Steward holds (before uninstalling, or now)"
    )
    restore.add_argument("--dry-run", action="store_true", help="list what it would restore; change nothing")
    restore.add_argument("--json", action="store_true", help="machine-readable output")

    pause = commands.add_parser(
        "pause", parents=options, help="off-hours and budget stops change nothing until resumed (no redeploy)"
    )
    pause.add_argument("--until", help="an ISO-8601 instant or a duration (90m, 12h, 2d); default: until resumed")
    commands.add_parser("resume", parents=options, help="turn the pause switch off")

    plan = commands.add_parser("plan", parents=options, help="what the next tick would do")
    plan.add_argument("what", choices=["off-hours"])
    plan.add_argument("--at", help="ISO-8601 instant to plan for (default: now)")

    invoke = commands.add_parser(
        "invoke", parents=options, help="run a handler in-process with an event file (a dry run unless told)"
    )
    invoke.add_argument("function", choices=sorted(FUNCTIONS), metavar="FUNCTION", help=", ".join(list(FUNCTIONS)[:5]))
    invoke.add_argument("--event", required=True, type=Path, help="event JSON file (see events/)")
    mode = invoke.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", dest="dry_run", action="store_true", default=True, help="decide and report only")
    mode.add_argument("--no-dry-run", dest="dry_run", action="store_false", help="really act")
    invoke.add_argument("--json", action="store_true", help="the handler's result as JSON")

    digest = commands.add_parser("digest", parents=options, help="the cost digest, printed (never posted)")
    digest.add_argument("--dry-run", action="store_true", help="accepted for older scripts: the digest is only printed")
    digest.add_argument("--at", help="ISO-8601 instant the digest is for (default: now)")

    schedules = commands.add_parser("schedules", parents=options, help="schedules documents")
    schedules_commands = schedules.add_subparsers(dest="schedules_command", required=True, metavar="COMMAND")
    validate = schedules_commands.add_parser(
        "validate", parents=options, help="check a schedules document before deploying it"
    )
    validate.add_argument("file", type=Path)
    validate.add_argument("--at", help="also show each schedule's state at this instant (default: now)")

    org = commands.add_parser(
        "org", help="every member account's Steward, read from the management account through its org read role"
    )
    org_commands = org.add_subparsers(dest="org_command", required=True, metavar="COMMAND")
    org_options = _org_options()
    org_status = org_commands.add_parser("status", parents=[org_options], help="`status`, account by account")
    org_status.add_argument("--json", action="store_true", help="machine-readable output")
    org_plan = org_commands.add_parser("plan", parents=[org_options], help="`plan`, account by account")
    org_plan.add_argument("what", choices=["off-hours"])
    org_plan.add_argument("--at", help="ISO-8601 instant to plan for (default: now)")

    check = commands.add_parser(
        "check", parents=options, help="check the settings a deployment would get, before deploying"
    )
    check.add_argument(
        "--config-env",
        help="a samconfig.toml environment (dev, staging, prod): check its parameter_overrides through the template; "
        "without it, the environment variables are checked",
    )
    check.add_argument("--config-file", type=Path, default=Path("samconfig.toml"), help="default: samconfig.toml")
    check.add_argument("--template", type=Path, default=Path("template.yaml"), help="default: template.yaml")
    check.add_argument("--schedules", type=Path, help="also check this schedules document")
    return root


def _org_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--external-id",
        help="the member stacks' OrgExternalId (default: STEWARD_ORG_EXTERNAL_ID); the role is assumed only with it",
    )
    options.add_argument(
        "--name-prefix",
        default="steward",
        help="the StackSet's NamePrefix: role <prefix>-org-read-<region>, parameter /<prefix>/org-view "
        "(default: steward)",
    )
    options.add_argument(
        "--role-name",
        help="the member role's name, if not <prefix>-org-read-<region> (a stack deployed with sam deploy)",
    )
    options.add_argument("--accounts", help="account ids, comma-separated (default: every active account but this one)")
    options.add_argument("--regions", help="regions, comma-separated (default: this command's region)")
    options.add_argument(
        "--max-workers", type=int, default=8, choices=range(1, 33), metavar="1-32", help="accounts read at once"
    )
    return options


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    stream = _Output(out or sys.stdout)
    try:
        return _main(argv, cast(TextIO, stream))
    except BrokenPipeError:  # argparse's help and usage text to a reader that went away
        stream.drop()
        return EXIT_OK
    finally:
        stream.flush()


def _main(argv: Sequence[str] | None, out: TextIO) -> int:
    try:
        arguments = parser().parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    try:
        if arguments.command not in ("schedules", "check"):  # these read local files only: no region needed
            _apply_options(arguments)
        with _logs_to_stderr():
            return run(arguments, out)
    except CliError as error:
        print(f"steward: {error}", file=sys.stderr)
        return error.code
    except Exception as error:  # the command's last word is a message and an exit code, never a traceback
        if os.environ.get("STEWARD_DEBUG"):
            raise
        code, message = _explain(error)
        print(f"steward: {message}", file=sys.stderr)
        return code


def run(arguments: argparse.Namespace, out: TextIO) -> int:
    """The chosen command, with the options already applied."""
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "schedules": lambda a: validate_schedules(a.file, _instant(a.at, "--at"), out),
        "status": lambda a: status(out, as_json=a.json),
        "history": lambda a: history(_since(a.since, datetime.now(UTC)), out, as_json=a.json),
        "restore-all": lambda a: restore_all(out, dry_run=a.dry_run, as_json=a.json),
        "pause": lambda a: set_pause(a.until, out),
        "resume": lambda a: set_pause(None, out, resume=True),
        "plan": lambda a: plan_off_hours(_instant(a.at, "--at"), out),
        "invoke": lambda a: invoke(a.function, a.event, out, dry_run=a.dry_run, as_json=a.json),
        "digest": lambda a: print_digest(_instant(a.at, "--at"), out),
        "check": lambda a: check_settings(a, out),
        "org": lambda a: _org(a, out),
    }
    return commands[arguments.command](arguments)


def _org(arguments: argparse.Namespace, out: TextIO) -> int:
    from steward import org_cli

    return org_cli.run(arguments, out)


def _version() -> str:
    try:
        return version("steward")
    except PackageNotFoundError:
        return "(not installed)"


def _apply_options(arguments: argparse.Namespace) -> None:
    for option, variable in (
        ("environment", "STEWARD_ENVIRONMENT"),
        ("state_table", "STATE_TABLE"),
        ("schedules_parameter", "SCHEDULES_PARAMETER"),
        ("pause_parameter", "PAUSE_PARAMETER"),
    ):
        value = getattr(arguments, option, None)
        if value:
            os.environ[variable] = value
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    region = _region()
    # boto3 reads AWS_DEFAULT_REGION, the functions' settings AWS_REGION (Lambda sets both): one region for both.
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region


@contextmanager
def _logs_to_stderr() -> Iterator[None]:
    """Steward's log lines go to stderr while the command runs, so stdout carries only its answer (for jq, head)."""
    from steward.observability import logger

    handler = logger.registered_handler
    if not isinstance(handler, logging.StreamHandler):
        yield
        return
    before = handler.setStream(_Stderr())
    try:
        yield
    finally:
        if before is not None:
            handler.setStream(before)


class _Stderr:
    """Whatever sys.stderr is when a line is logged."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _region() -> str:
    """The region as boto3 finds it (AWS_DEFAULT_REGION, then the profile's config file), else AWS_REGION."""
    import boto3

    region = boto3.session.Session().region_name or os.environ.get("AWS_REGION")
    if not region:
        raise CliError("no AWS region: set AWS_DEFAULT_REGION, or a region in your AWS profile (aws configure)")
    return str(region)


def _instant(text: str | None, option: str) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"{option} {text!r} is not an ISO-8601 instant like 2026-11-27T19:00:00Z") from None
    if value.tzinfo is None:
        raise CliError(f"{option} {text!r} needs a timezone, e.g. a trailing Z")
    return value


def _since(text: str, now: datetime) -> datetime:
    """`--since`: a duration back from now (90m, 24h, 7d, 2w) or an ISO-8601 instant."""
    duration = DURATION.match(text.strip())
    if duration:
        return now - timedelta(**{UNITS[duration.group(2)]: int(duration.group(1))})
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text.strip()):
        raise CliError(f"--since {text!r} is neither a duration like 24h or 7d nor an instant like 2026-11-27T19:00Z")
    return _instant(text.strip(), "--since")


def _explain(error: Exception) -> tuple[int, str]:
    """What went wrong, in words that name the resource; never an internal class name."""
    answer = _explain_setup(error) or _explain_aws(error)
    if answer is not None:
        return answer
    return EXIT_INVALID, f"failed: {error}" if str(error) else "failed"


def _explain_setup(error: Exception) -> tuple[int, str] | None:
    """The command's own configuration: settings, region, profile, credentials."""
    from botocore.exceptions import NoCredentialsError, NoRegionError, ProfileNotFound

    from steward.settings import SettingsError

    if isinstance(error, SettingsError):
        problems = str(error).partition(" is misconfigured: ")[2] or str(error)
        return EXIT_USAGE, (
            f"settings missing or invalid: {problems} "
            "(set the variables, or pass --environment / --state-table / --schedules-parameter)"
        )
    if isinstance(error, NoRegionError):
        return EXIT_USAGE, "no AWS region: set AWS_DEFAULT_REGION, or a region in your AWS profile (aws configure)"
    if isinstance(error, ProfileNotFound):
        return EXIT_USAGE, f"{error} (check AWS_PROFILE and AWS_CONFIG_FILE)"
    if isinstance(error, NoCredentialsError):
        return EXIT_AWS, "no AWS credentials found: configure a profile (AWS_PROFILE) or set AWS_ACCESS_KEY_ID"
    return None


def _explain_aws(error: Exception) -> tuple[int, str] | None:
    """AWS's answer: unreachable, Steward's state table not there, or a refusal (AWS's own words name the rest)."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    from steward.adapters.state import StateUnavailable

    if isinstance(error, EndpointConnectionError):
        return EXIT_AWS, f"cannot reach AWS: {error}"
    refused = next((cause for cause in _causes(error) if isinstance(cause, ClientError)), None)
    if refused is not None and _is_missing_table(refused):
        table, region = os.environ.get("STATE_TABLE", ""), os.environ.get("AWS_REGION", "")
        return EXIT_USAGE, (
            f"state table {table!r} not found in {region} "
            "(check --state-table or STATE_TABLE against the stack outputs, and the region)"
        )
    if isinstance(error, ClientError | StateUnavailable | BotoCoreError):
        return EXIT_AWS, f"AWS refused: {error}"
    return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _is_missing_table(error: Any) -> bool:
    """DynamoDB answers a table that is not there (or not ACTIVE) with ResourceNotFoundException (API Reference)."""
    return bool(
        error.response.get("Error", {}).get("Code") == "ResourceNotFoundException"
        and error.operation_name in ("Scan", "Query", "GetItem", "PutItem", "UpdateItem", "DeleteItem")
    )


def _state_table() -> str:
    table = os.environ.get("STATE_TABLE", "")
    if not table:
        raise CliError("no state table: pass --state-table or set STATE_TABLE (the stack output StateTableName)")
    return table


def _aws() -> AwsClients:
    from steward.runtime import shared_aws

    return shared_aws()


# ------------------------------------------------------------------------------------------ status and history


def status(out: TextIO, *, as_json: bool) -> int:
    """What Steward holds now (held at zero, on on-demand), its latest rollbacks and its last digest."""
    snapshot = _inventory().snapshot()
    if as_json:
        print(json.dumps(status_document(snapshot), indent=2), file=out)
    else:
        print_status(snapshot, out)
    return EXIT_OK


def status_document(snapshot: Snapshot) -> dict[str, Any]:
    rollbacks = sorted(snapshot.rollbacks, key=lambda r: r.at, reverse=True)[:RECENT_ROLLBACKS]
    digest = max(snapshot.digests, key=lambda d: d.day, default=None)
    missed = max(snapshot.digests_missed, key=lambda d: d.day, default=None)
    return {
        "held": [
            {
                "service": held.service,
                "since": utc(held.restore.stopped_at),
                "by": held.restore.stopped_by,
                "status": held.restore.status,
                "until": utc(held.restore.hold_until) if held.restore.hold_until else None,
                "restores": _restores(held.restore),
            }
            for held in sorted(snapshot.held, key=lambda h: h.service)
        ],
        "held_databases": [
            {
                "database": held.database,
                "since": utc(held.hold.stopped_at),
                "by": held.hold.stopped_by,
                "status": held.hold.status,
                "until": utc(held.hold.hold_until) if held.hold.hold_until else None,
            }
            for held in sorted(snapshot.held_databases, key=lambda h: h.database)
        ],
        "on_demand": [
            {
                "service": episode.service,
                "since": utc(episode.since),
                "last_spot_failure": utc(episode.last_signal_at),
                "goes_back_to": _strategy(episode.original),
                "cause": episode.cause,
            }
            for episode in sorted(snapshot.on_demand, key=lambda e: e.service)
        ],
        "rollbacks": [
            {
                "service": rollback.service,
                "at": utc(rollback.at),
                "from": rollback.from_task_definition,
                "to": rollback.to_task_definition,
                "alarm": rollback.alarm,
            }
            for rollback in rollbacks
        ],
        "last_digest": {"day": digest.day.isoformat(), "posted_at": utc(digest.posted_at)} if digest else None,
        "last_digest_unavailable": {"day": missed.day.isoformat(), "reason": missed.reason} if missed else None,
        "unreadable_items": snapshot.unreadable,
    }


def print_status(snapshot: Snapshot, out: TextIO, indent: str = "") -> None:
    rollbacks = sorted(snapshot.rollbacks, key=lambda r: r.at, reverse=True)[:RECENT_ROLLBACKS]
    digest = max(snapshot.digests, key=lambda d: d.day, default=None)
    missed = max(snapshot.digests_missed, key=lambda d: d.day, default=None)
    _section(
        out,
        indent,
        "Held at zero",
        ["SERVICE", "SINCE", "BY", "RESTORES"],
        [
            (held.service, utc(held.restore.stopped_at), _held_by(held.restore), _restores(held.restore))
            for held in sorted(snapshot.held, key=lambda h: h.service)
        ],
    )
    if snapshot.held_databases:
        _section(
            out,
            indent,
            "Databases held stopped",
            ["DATABASE", "SINCE", "BY", "STARTS"],
            [
                (h.database, utc(h.hold.stopped_at), h.hold.stopped_by, _db_starts(h.hold))
                for h in sorted(snapshot.held_databases, key=lambda h: h.database)
            ],
        )
    _section(
        out,
        indent,
        "On on-demand after a Spot failure",
        ["SERVICE", "SINCE", "LAST SPOT FAILURE", "GOES BACK TO"],
        [
            (e.service, utc(e.since), utc(e.last_signal_at), _strategy(e.original))
            for e in sorted(snapshot.on_demand, key=lambda e: e.service)
        ],
    )
    _section(
        out,
        indent,
        f"Latest rollbacks (up to {RECENT_ROLLBACKS})",
        ["SERVICE", "AT", "FROM", "TO", "ALARM"],
        [
            (r.service, utc(r.at), _revision(r.from_task_definition), _revision(r.to_task_definition), r.alarm)
            for r in rollbacks
        ],
    )
    last = f"for {digest.day.isoformat()}, posted {utc(digest.posted_at)}" if digest else "none posted"
    print(f"{indent}Last cost digest: {last}", file=out)
    if missed and (digest is None or missed.day > digest.day):
        print(f"{indent}  unavailable on {missed.day.isoformat()}: {missed.reason}", file=out)
    if snapshot.unreadable:
        print(f"{indent}({snapshot.unreadable} state item(s) could not be read and are not shown)", file=out)


def history(since: datetime, out: TextIO, *, as_json: bool) -> int:
    """Everything the state table remembers from `since` on, oldest first."""
    events = sorted(event for event in _events(_inventory().snapshot()) if event[0] >= since)
    if as_json:
        rows = [{"at": utc(at), "service": service, "what": what} for at, service, what in events]
        print(json.dumps({"since": utc(since), "events": rows}, indent=2), file=out)
        return EXIT_OK
    print(f"Since {utc(since)}: {len(events)} event(s)", file=out)
    if events:
        _table(["AT", "SERVICE", "WHAT"], [(utc(at), service or "-", what) for at, service, what in events], out)
    return EXIT_OK


def _events(snapshot: Snapshot) -> Iterator[tuple[datetime, str, str]]:
    for held in snapshot.held:
        restore = held.restore
        yield restore.stopped_at, held.service, f"held at zero by {restore.stopped_by} ({_restores(restore)})"
    for ended in snapshot.ended_holds:
        yield ended.start, ended.service, f"held at zero by {ended.by} ({ended.tasks} task(s))"
        yield ended.end, ended.service, f"restored {ended.tasks} task(s) after {_duration(ended.end - ended.start)}"
    for episode in snapshot.on_demand:
        yield episode.since, episode.service, f"moved to on-demand: {episode.cause}"
    for rollback in snapshot.rollbacks:
        moved = f"{_revision(rollback.from_task_definition)} -> {_revision(rollback.to_task_definition)}"
        yield rollback.at, rollback.service, f"rolled back {moved} (alarm {rollback.alarm})"
    for failed in snapshot.failed_deployments:
        yield failed.at, failed.service, f"deployment {failed.deployment_id} failed: {failed.reason}".rstrip(": ")
    for digest in snapshot.digests:
        yield digest.posted_at, "", f"cost digest for {digest.day.isoformat()} posted"


def _inventory() -> Inventory:
    from steward.adapters.inventory import Inventory

    return Inventory(_aws(), _state_table())


# ------------------------------------------------------------------------------------------ restore-all


def restore_all(out: TextIO, *, dry_run: bool, as_json: bool) -> int:
    """Every service Steward holds at zero back to its restore record, every open Spot episode back to its original
    strategy; each through the step its workflow uses, so a second run (or one after a partial failure) finishes the
    job and touches nothing Steward does not hold."""
    from steward.adapters.db_holds import DatabaseHolds
    from steward.adapters.ecs import Ecs
    from steward.adapters.holding import Holds, WriteLimits
    from steward.adapters.inventory import Inventory
    from steward.adapters.rds import Rds
    from steward.adapters.state import StateStore

    aws, table, now = _aws(), _state_table(), datetime.now(UTC)
    state = StateStore(aws, table)
    limits = WriteLimits.per_second(RESTORE_WRITES_PER_SECOND)
    holds, limit = Holds(Ecs(aws), state, limits), limits.ecs
    emit = partial(_print_row, out) if not as_json else _no_print
    if not as_json:
        print(f"restore-all{' (dry run: nothing is changed)' if dry_run else ''}", file=out)
    from steward.workflows.restore import restore_databases, restore_holds

    rows = restore_holds(holds, Inventory(aws, table), Ecs(aws), now, dry_run=dry_run, emit=emit)
    rows += restore_databases(holds, DatabaseHolds(Rds(aws), state, limit), Rds(aws), now, dry_run=dry_run, emit=emit)
    rows += shift_back_all(aws, state, now, dry_run=dry_run, emit=emit)
    failed = [row for row in rows if row["outcome"] in FAILED_OUTCOMES]
    if as_json:
        print(json.dumps({"dry_run": dry_run, "services": rows}, indent=2), file=out)
    elif not rows:
        print("nothing held: no service at zero by Steward, none on on-demand after a Spot failure", file=out)
    else:
        done = f"{len(rows) - len(failed)} {'would be restored' if dry_run else 'done'}"
        print(f"{len(rows)} service(s): {done}, {len(failed)} not restored", file=out)
    return EXIT_INVALID if failed else EXIT_OK


def shift_back_all(
    aws: AwsClients, state: StateStore, now: datetime, *, dry_run: bool, emit: Callable[[Row], None]
) -> list[Row]:
    """Every open Spot episode back to its recorded strategy now (no wait for Spot to be stable), as the stack's
    deletion does, unless someone changed the strategy since."""
    from steward.adapters.spot_ecs import SpotEcs
    from steward.adapters.spot_episodes import SpotEpisodes
    from steward.shift_back import ShiftBack
    from steward.workflows.restore import shift_back_all as shift_back_each

    step = ShiftBack(SpotEcs(aws), SpotEpisodes(state, dry_run=dry_run), None, dry_run, timedelta(0))
    return shift_back_each(step, now, emit=emit)


def _print_row(out: TextIO, row: Row) -> None:
    """One line per service as it is done, so a long run shows its progress."""
    service = f"{row['cluster']}/{row['service']}"
    print(f"  {row['outcome']:<16}  {service:<40}  {row['what']}", file=out, flush=True)


def _no_print(row: Row) -> None:
    """--json prints every row at the end, as one document."""


# ------------------------------------------------------------------------------------------ pause, resume


def set_pause(until: str | None, out: TextIO, *, resume: bool = False) -> int:
    """The pause switch (an SSM parameter the stack creates): read by each off-hours tick and budget stop."""
    parameter = os.environ.get("PAUSE_PARAMETER", "")
    if not parameter:
        raise CliError(
            "no pause parameter: give --pause-parameter or set PAUSE_PARAMETER (the stack's PauseParameterName output)"
        )
    now = datetime.now(UTC)
    value = "off" if resume else ("on" if until is None else utc(_until(until, now)))
    _aws().ssm.put_parameter(Name=parameter, Value=value, Type="String", Overwrite=True)
    if resume:
        print(f"resumed: {parameter} is off; the next off-hours tick catches up", file=out)
    elif until is None:
        print(f"paused until resumed: {parameter} is on (`steward resume` turns it off)", file=out)
    else:
        print(f"paused until {value}: {parameter} (`steward resume` ends it sooner)", file=out)
    print("each running function reads the switch within a minute", file=out)
    return EXIT_OK


def _until(text: str, now: datetime) -> datetime:
    """A pause's end: an instant with its zone, or a duration from now."""
    match = re.fullmatch(r"(\d+)([mhdw])", text.strip())
    if match:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
        return now + timedelta(**{unit: int(match.group(1))})
    return _instant(text, "--until")


# ------------------------------------------------------------------------------------------ plan, invoke, digest


def validate_schedules(path: Path, at: datetime, out: TextIO) -> int:
    from steward.domain.schedules import ScheduleError, parse_schedules

    text = _read(path)
    try:
        schedules = parse_schedules(text)
    except ScheduleError as error:
        print(f"{path}: {error}", file=out)
        return EXIT_INVALID
    print(f"{path}: {len(schedules)} schedule(s), valid", file=out)
    for name, schedule in schedules.items():
        desired = schedule.desired_at(at)
        state = desired.state if desired else "no edge in the past week"
        upcoming = schedule.next_edge(at, "off" if desired and desired.state == "on" else "on")
        following = f"; next {upcoming.state} at {utc(upcoming.at)} ({upcoming.local})" if upcoming else ""
        print(f"  {name}: {state} at {utc(at)}{following}", file=out)
    return EXIT_OK


def check_settings(arguments: argparse.Namespace, out: TextIO) -> int:
    """The settings each function would get, checked before deploying: one line per problem, naming the parameter
    and the fix; 0 when there is none, 1 otherwise."""
    from steward import deploy_check

    try:
        if arguments.config_env:
            report = deploy_check.check_samconfig(
                arguments.config_file, arguments.config_env, arguments.template, arguments.schedules
            )
        else:
            environ = dict(os.environ)
            for option, variable in (
                ("environment", "STEWARD_ENVIRONMENT"),
                ("state_table", "STATE_TABLE"),
                ("schedules_parameter", "SCHEDULES_PARAMETER"),
            ):
                environ[variable] = getattr(arguments, option, None) or environ.get(variable, "")
            report = deploy_check.check_environ(
                {name: value for name, value in environ.items() if value}, arguments.template, arguments.schedules
            )
    except deploy_check.CheckError as error:
        raise CliError(str(error)) from None
    print(f"checked {report.source}: {report.functions} function(s)", file=out)
    for problem in report.problems:
        print(problem.line(), file=out)
    count = len(report.problems)
    if not count:
        print("no problems: every function would start with these settings", file=out)
        return EXIT_OK
    print(f"{count} problem{'s' if count > 1 else ''}: fix them before deploying", file=out)
    return EXIT_INVALID


def plan_off_hours(at: datetime, out: TextIO) -> int:
    """The decisions a tick at `at` would act on (the tick's own `plan_tick`), without acting."""
    from steward.adapters.schedules import Unusable
    from steward.runtime import runtime
    from steward.settings.off_hours import OffHoursSettings
    from steward.workflows.off_hours import plan_tick

    rt = runtime(OffHoursSettings)
    print(f"scope: {rt.settings.scope.label}", file=out)
    planned = plan_tick(rt, at)
    if isinstance(planned, Unusable):
        print(f"off-hours would change nothing: {planned.problem}", file=out)
        return EXIT_INVALID
    print_plan(planned, at, out)
    return EXIT_OK


def print_plan(planned: Observed, at: datetime, out: TextIO, indent: str = "") -> None:
    from steward.domain.services import TagProblem

    rows = [(v.service.key, v.decision.action.value, v.decision.reason) for v in planned.services]
    print(f"{indent}off-hours plan for {utc(at)}: {len(rows)} tagged service(s)", file=out)
    _table(["SERVICE", "ACTION", "WHY"], sorted(rows), out, indent=indent)
    if planned.databases:
        db_rows = [(v.database.key, v.decision.action.value, v.decision.reason) for v in planned.databases]
        print(f"\n{indent}{len(db_rows)} tagged database(s)", file=out)
        _table(["DATABASE", "ACTION", "WHY"], sorted(db_rows), out, indent=indent)
    problems = [TagProblem(v.service, invalid) for v in planned.services for invalid in v.invalid]
    problems += [TagProblem(v.database, invalid) for v in planned.databases for invalid in v.invalid]
    _invalid_tags(problems, out, indent)


def _invalid_tags(problems: list[TagProblem], out: TextIO, indent: str = "") -> None:
    """Each tag value Steward cannot read: the value and why, what Steward does meanwhile, and the fix."""
    from steward.reports.tags import problem_lines

    if not problems:
        return
    print(f"\n{indent}{len(problems)} tag value(s) Steward cannot read:", file=out)
    for problem in sorted(problems, key=lambda p: (p.resource.key, p.invalid.tag)):
        what, fix, command = problem_lines(problem)
        print(f"{indent}  {problem.resource.key}: {what}\n{indent}    {fix}\n{indent}    {command}", file=out)


def invoke(function: str, event_file: Path, out: TextIO, *, dry_run: bool, as_json: bool) -> int:
    """The handler, in-process, with the event; a dry run unless --no-dry-run, whatever the endpoint."""
    _set_dry_run(dry_run)
    try:
        event = json.loads(_read(event_file))
    except json.JSONDecodeError as error:
        raise CliError(f"{event_file} is not JSON: {error.msg} at line {error.lineno}") from None
    handler = importlib.import_module(f"steward.handlers.{FUNCTIONS[function]}").lambda_handler
    result = handler(event, _Context(FUNCTIONS[function]))
    if as_json:
        print(json.dumps(result, indent=2, default=str), file=out)
    else:
        print(f"{function}{' (dry run)' if dry_run else ''}: {event_file}", file=out)
        _describe(result, out, indent="  ")
    rejections = _rejections(result)
    if rejections:
        for reason in rejections:
            # The reason names the event model it expected; people know the function, not its model classes.
            words = re.sub(r"\bnot a valid [A-Z]\w*", "not an event it handles", reason)
            print(f"steward: {function} does not accept this event: {words}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _set_dry_run(dry_run: bool) -> None:
    """DRY_RUN for the handler about to run, and settings read afresh, so no earlier run's answer is reused."""
    from steward.settings import load_settings

    os.environ["DRY_RUN"] = "true" if dry_run else "false"
    load_settings.cache_clear()


def _rejections(result: Any) -> list[str]:
    """Why the function refused the event (or any record of it), if it did."""
    if not isinstance(result, dict):
        return []
    if result.get("outcome") == "rejected":
        return [str(result.get("reason", ""))]
    records = result.get("records")
    if isinstance(records, list):
        return [str(r.get("reason", "")) for r in records if isinstance(r, dict) and r.get("outcome") == "rejected"]
    return []


def _describe(value: Any, out: TextIO, indent: str) -> None:
    """A handler's result for people: one line per field, lists of services as aligned rows."""
    if not isinstance(value, dict):
        print(f"{indent}{value}", file=out)
        return
    for key, item in value.items():
        label = str(key).replace("_", " ")
        if isinstance(item, list):
            print(f"{indent}{label}: {len(item)}", file=out)
            _describe_list(item, out, indent + "  ")
        elif isinstance(item, dict):
            print(f"{indent}{label}:", file=out)
            _describe(item, out, indent + "  ")
        else:
            print(f"{indent}{label}: {item}", file=out)


def _describe_list(entries: list[Any], out: TextIO, indent: str) -> None:
    """Flat records with the same fields (services and their outcome) as a table; anything else one by one."""
    flat = [e for e in entries if isinstance(e, dict) and not any(isinstance(v, dict | list) for v in e.values())]
    if entries and len(flat) == len(entries) and all(e.keys() == flat[0].keys() for e in flat):
        headers = [str(key).replace("_", " ").upper() for key in flat[0]]
        _table(headers, [tuple(str(value) for value in entry.values()) for entry in flat], out, indent=indent)
        return
    for entry in entries:
        if isinstance(entry, dict):
            print(f"{indent}-", file=out)
            _describe(entry, out, indent + "  ")
        else:
            print(f"{indent}{entry}", file=out)


def print_digest(at: datetime, out: TextIO) -> int:
    _set_dry_run(True)
    from steward.handlers import cost_report

    result = cost_report.lambda_handler(
        {"source": "steward.scheduler", "task": "cost-digest", "now": at.isoformat()}, _Context("cost_report")
    )
    message = result["message"]
    for block in message["blocks"]:
        print(block_text(block), file=out)
    for reply in message["replies"]:
        print("\n— in the thread —", file=out)
        for block in reply:
            print(block_text(block), file=out)
    return EXIT_OK


def block_text(block: dict[str, Any]) -> str:
    if block["type"] == "header":
        return f"\n{block['text']['text']}\n{'=' * len(block['text']['text'])}"
    if block["type"] == "divider":
        return "-" * 40
    if block["type"] == "context":
        return "  ".join(element.get("text", "") for element in block["elements"])
    parts = [block["text"]["text"]] if block.get("text") else []
    parts += [field["text"].replace("\n", " ") for field in block.get("fields", [])]
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------ words and tables


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _restores(restore: RestoreRecord) -> str:
    target = scaling_target(restore)
    return f"{restore.desired_count} task(s)" + (f", {target}" if target else "")


def _db_starts(hold: DatabaseHold) -> str:
    """When it starts again: at its hold's end, or at its schedule's next start (lead time ahead of its services)."""
    if hold.hold_until is not None:
        return f"at {utc(hold.hold_until)} (budget period resets)"
    return "at its schedule's next start, ahead of its services"


def _held_by(restore: RestoreRecord) -> str:
    words = restore.stopped_by
    if restore.hold_until is not None:
        words += f" until {utc(restore.hold_until)}"
    if restore.status != "stopped":
        words += " (stop not finished)"
    return words


def _strategy(strategy: Any) -> str:
    from steward.domain.spot import describe_strategy

    return describe_strategy(strategy)


def _revision(task_definition: str) -> str:
    """'arn:…:task-definition/api-gateway:42' → 'api-gateway:42'."""
    return task_definition.rsplit("/", 1)[-1]


def _section(out: TextIO, indent: str, title: str, headers: list[str], rows: list[tuple[str, ...]]) -> None:
    print(f"{indent}{title}: {len(rows) or 'none'}", file=out)
    if rows:
        _table(headers, rows, out, indent=indent + "  ")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"{path}: cannot read it ({error})") from None


def _table(headers: list[str], rows: list[tuple[str, ...]], out: TextIO, indent: str = "") -> None:
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    widths[-1] = 0
    print(indent + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(), file=out)
    for row in rows:
        print(indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


class _Output:
    """The command's stdout. A reader that goes away (`| head`) ends the output, never the work or the exit code:
    what follows is dropped, and stdout points at /dev/null so the interpreter's last flush is quiet too."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._gone = False

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                self._stream.write(text)
            except BrokenPipeError:
                self.drop()
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self.drop()

    def drop(self) -> None:
        self._gone = True
        try:
            descriptor = self._stream.fileno()
        except (OSError, ValueError, AttributeError):
            return  # not a file (a test's StringIO): nothing to silence
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, descriptor)
        os.close(devnull)


class _Context:
    def __init__(self, name: str) -> None:
        self.function_name = f"steward-cli-{name}"
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{self.function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = "cli"


if __name__ == "__main__":
    sys.exit(main())
