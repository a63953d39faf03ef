"""`steward org status` and `steward org plan`: the single-account views, for every member account of the
organisation, read from the management account through each member stack's read-only role.

Each account and region is read on its own thread (at most --max-workers at once); one that cannot be read (no
role, a wrong external id, no stack, AWS refusing a read) is listed with why, and the others are still shown. Exit
codes as `steward`'s: 0 every account read, 1 some could not be, 2 bad usage, 3 the management account's own calls
failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, TextIO

from botocore.exceptions import ClientError
from msgspec import Struct

from steward.adapters.org_view import (
    Member,
    MemberStack,
    Organisation,
    OrgViewError,
    Reading,
    Target,
    pause_state,
    read_each,
    targets,
)
from steward.cli import (
    EXIT_INVALID,
    EXIT_OK,
    CliError,
    _aws,
    _causes,
    _explain,
    _instant,
    _is_missing_table,
    _table,
    print_plan,
    print_status,
    status_document,
)
from steward.workflows.restore import utc

if TYPE_CHECKING:
    from steward.adapters.inventory import Snapshot
    from steward.adapters.schedules import Unusable
    from steward.domain.pause import Paused
    from steward.workflows.off_hours import Observed

RECENT = timedelta(days=7)  # the summary counts rollbacks this recent
EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}")


class MemberStatus(Struct, frozen=True):
    stack: MemberStack
    snapshot: Snapshot
    paused: Paused | None


class MemberPlan(Struct, frozen=True):
    stack: MemberStack
    scope: str
    planned: Observed | Unusable


def run(arguments: argparse.Namespace, out: TextIO) -> int:
    external_id = arguments.external_id or os.environ.get("STEWARD_ORG_EXTERNAL_ID", "")
    if not external_id:
        raise CliError("no external id: pass --external-id or set STEWARD_ORG_EXTERNAL_ID (the stacks' OrgExternalId)")
    if not EXTERNAL_ID.fullmatch(external_id):
        # STS API Reference, AssumeRole ExternalId: 2 to 1,224 characters of [\w+=,.@:/-].
        raise CliError(f"external id {external_id!r}: 2 to 1224 letters, digits or + = , . @ : / - _")
    org = Organisation(_aws(), prefix=arguments.name_prefix, external_id=external_id, role_name=arguments.role_name)
    try:
        accounts = org.accounts(_listed(arguments.accounts, "--accounts"))
    except OrgViewError as error:
        raise CliError(str(error), EXIT_INVALID) from None
    regions = _listed(arguments.regions, "--regions") or [os.environ["AWS_REGION"]]
    wanted = targets(accounts, regions)
    now = datetime.now(UTC)
    if arguments.org_command == "status":
        statuses = read_each(org, wanted, partial(member_status, now=now), explain, workers=arguments.max_workers)
        if arguments.json:
            print(json.dumps(status_json(statuses), indent=2), file=out)
        else:
            print_statuses(org, statuses, now, out)
        return _exit(statuses)
    at = _instant(arguments.at, "--at")
    plans = read_each(org, wanted, partial(member_plan, at=at), explain, workers=arguments.max_workers)
    print_plans(org, plans, at, out)
    return _exit(plans)


def _listed(text: str | None, option: str) -> list[str]:
    values = [value.strip() for value in (text or "").split(",") if value.strip()]
    if option == "--accounts" and any(not (value.isdigit() and len(value) == 12) for value in values):
        raise CliError(f"{option} {text!r}: give 12-digit account ids separated by commas")
    return values


def _exit(readings: Sequence[Reading[Any]]) -> int:
    return EXIT_INVALID if any(reading.error for reading in readings) else EXIT_OK


# ------------------------------------------------------------------------------------------ reading one member


def member_status(member: Member, *, now: datetime) -> MemberStatus:
    from steward.adapters.inventory import Inventory

    with _its_table(member):
        snapshot = Inventory(member.aws, member.stack.state_table).snapshot()
    return MemberStatus(member.stack, snapshot, pause_state(member, now))


def member_plan(member: Member, *, at: datetime) -> MemberPlan:
    """The member's next off-hours tick, decided as its function would (its settings from its org view)."""
    from steward.adapters.slack import SlackNotifier
    from steward.adapters.state import StateStore
    from steward.runtime import Runtime
    from steward.settings import settings_from
    from steward.settings.off_hours import OffHoursSettings
    from steward.workflows.off_hours import plan_tick

    settings = settings_from(OffHoursSettings, member.stack.environ(member.region, member.account.id))
    aws = member.aws
    state = StateStore(aws, settings.state_table)
    rt = Runtime(settings=settings, aws=aws, state=state, slack=SlackNotifier(settings, aws))
    with _its_table(member):
        return MemberPlan(member.stack, settings.scope.label, plan_tick(rt, at))


@contextmanager
def _its_table(member: Member) -> Iterator[None]:
    """A member's state table that is not there is said in the member's words, not the command's settings'."""
    try:
        yield
    except Exception as error:
        if any(_is_missing_table(cause) for cause in _causes(error) if isinstance(cause, ClientError)):
            raise OrgViewError(
                f"its state table {member.stack.state_table!r} is not there in {member.region} (named by the stack's "
                "org-view parameter)"
            ) from None
        raise


def explain(error: Exception) -> str:
    """Why one account could not be read, in words that say what to check."""
    if isinstance(error, OrgViewError):
        return str(error)
    if isinstance(error, ClientError) and error.operation_name == "AssumeRole":
        return (
            f"cannot assume the org read role: {error.response['Error'].get('Message', error)} (is the member stack "
            "deployed with OrgManagementAccountId set to this account and the same OrgExternalId, and may these "
            "credentials call sts:AssumeRole on it? AWS answers the same for each)"
        )
    return _explain(error)[1]


# ------------------------------------------------------------------------------------------ status


def print_statuses(org: Organisation, statuses: list[Reading[MemberStatus]], now: datetime, out: TextIO) -> None:
    read = [reading for reading in statuses if reading.value is not None]
    print(
        f"organisation view: {len(read)} of {len(statuses)} account-region(s) read, through role {org.role_label}",
        file=out,
    )
    rows = [_summary(reading.target, reading.value, now) for reading in read if reading.value is not None]
    if rows:
        headers = ["ACCOUNT", "NAME", "REGION", "ENVIRONMENT", "HELD", "DATABASES", "ON-DEMAND", "ROLLBACKS 7D"]
        _table([*headers, "PAUSED"], rows, out)
    _not_read(statuses, out)
    for reading in read:
        if reading.value is not None:
            print(f"\n{_heading(reading.target, reading.value.stack)}", file=out)
            print_status(reading.value.snapshot, out, indent="  ")


def _summary(target: Target, status: MemberStatus, now: datetime) -> tuple[str, ...]:
    snapshot = status.snapshot
    recent = sum(1 for rollback in snapshot.rollbacks if rollback.at >= now - RECENT)
    return (
        target.account.id,
        target.account.name or "-",
        target.region,
        _environment(status.stack),
        str(len(snapshot.held)),
        str(len(snapshot.held_databases)),
        str(len(snapshot.on_demand)),
        str(recent),
        status.paused.why if status.paused else "no",
    )


def status_json(statuses: list[Reading[MemberStatus]]) -> dict[str, Any]:
    accounts = []
    for reading in statuses:
        if reading.value is not None:
            status = reading.value
            accounts.append(
                {
                    **_where(reading.target),
                    "environment": status.stack.environment,
                    "dry_run": status.stack.dry_run == "true",
                    "paused": status.paused.why if status.paused else None,
                    **status_document(status.snapshot),
                }
            )
    not_read = [{**_where(reading.target), "error": reading.error} for reading in statuses if reading.error]
    return {"accounts": accounts, "not_read": not_read}


# ------------------------------------------------------------------------------------------ plan


def print_plans(org: Organisation, plans: list[Reading[MemberPlan]], at: datetime, out: TextIO) -> None:
    from steward.adapters.schedules import Unusable

    read = [reading for reading in plans if reading.value is not None]
    print(
        f"organisation off-hours plan for {utc(at)}: {len(read)} of {len(plans)} account-region(s) read, "
        f"through role {org.role_label}",
        file=out,
    )
    rows: list[tuple[str, ...]] = []
    for reading in read:
        if reading.value is not None:
            planned = reading.value.planned
            counts = _counts(planned) if not isinstance(planned, Unusable) else ("-", "-", "-", "-")
            where = (reading.target.account.id, reading.target.account.name or "-", reading.target.region)
            rows.append((*where, _environment(reading.value.stack), *counts))
    if rows:
        headers = ["ACCOUNT", "NAME", "REGION", "ENVIRONMENT", "STOP", "START", "DB STOP", "DB START"]
        _table(headers, rows, out)
    _not_read(plans, out)
    for reading in read:
        if reading.value is None:
            continue
        print(f"\n{_heading(reading.target, reading.value.stack)}", file=out)
        print(f"  scope: {reading.value.scope}", file=out)
        planned = reading.value.planned
        if isinstance(planned, Unusable):
            print(f"  off-hours would change nothing: {planned.problem}", file=out)
        else:
            print_plan(planned, at, out, indent="  ")


def _counts(planned: Observed) -> tuple[str, str, str, str]:
    def count(decisions: list[Any], action: str) -> str:
        return str(sum(1 for verdict in decisions if verdict.decision.action.value == action))

    services, databases = planned.services, planned.databases
    return count(services, "stop"), count(services, "start"), count(databases, "stop"), count(databases, "start")


# ------------------------------------------------------------------------------------------ words


def _not_read(readings: Sequence[Reading[Any]], out: TextIO) -> None:
    failed = [reading for reading in readings if reading.error]
    if not failed:
        return
    print(f"\nnot read: {len(failed)}", file=out)
    for reading in failed:
        where = f"{reading.target.account.id} {reading.target.account.name}".rstrip()
        print(f"  {where} ({reading.target.region}): {reading.error}", file=out)


def _heading(target: Target, stack: MemberStack) -> str:
    name = f" {target.account.name}" if target.account.name else ""
    return f"{target.account.id}{name}, {target.region} ({_environment(stack)}):"


def _environment(stack: MemberStack) -> str:
    return stack.environment + (", dry run" if stack.dry_run == "true" else "")


def _where(target: Target) -> dict[str, str]:
    return {"account": target.account.id, "name": target.account.name, "region": target.region}
