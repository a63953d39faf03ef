"""The organisation view: each member account's Steward stack, read through the read-only role its stack creates
(OrgReadRole, `<prefix>-org-read-<region>` in the organisation package), assumed from the management account with the
external id. Accounts are read side by side on a bounded pool; one that cannot be read is reported with why, and
never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError
from msgspec import DecodeError, Struct, ValidationError, json

from steward.adapters.aws import AwsClients
from steward.adapters.pause import PauseSwitch
from steward.adapters.state import StateStore
from steward.domain.pause import Paused

SESSION_NAME = "steward-org-view"  # shows in each member account's CloudTrail as the assumed role's session
# AssumeRole's shortest session, 900 s (STS API Reference, AssumeRole DurationSeconds): a view takes seconds.
SESSION_SECONDS = 900
MAX_WORKERS = 32


class OrgViewError(Exception):
    """The view cannot start: no accounts to read, or the management account's own calls failed."""


class Account(Struct, frozen=True):
    id: str
    name: str = ""


class MemberStack(Struct, frozen=True):
    """What /<prefix>/org-view says about the member stack (template.yaml, OrgViewParameter)."""

    state_table: str
    environment: str
    dry_run: str
    scope_clusters: str
    account_wide: str
    schedules_parameter: str
    pause_parameter: str

    def environ(self, region: str, account: str) -> dict[str, str]:
        """The member functions' environment variables, as their settings read them."""
        return {
            "STEWARD_ENVIRONMENT": self.environment,
            "DRY_RUN": self.dry_run,
            "STATE_TABLE": self.state_table,
            "SCOPE_CLUSTERS": self.scope_clusters,
            "ACCOUNT_WIDE": self.account_wide,
            "SCHEDULES_PARAMETER": self.schedules_parameter,
            "PAUSE_PARAMETER": self.pause_parameter,
            "AWS_REGION": region,
            "ACCOUNT_ID": account,
        }


class Member(Struct, frozen=True):
    """One member account and region, opened: its clients (as the read-only role) and its stack."""

    account: Account
    region: str
    aws: AwsClients
    stack: MemberStack


class Target(Struct, frozen=True):
    account: Account
    region: str


class Reading[T](Struct, frozen=True):
    """One account and region's answer, or why there is none."""

    target: Target
    value: T | None = None
    error: str = ""


class Organisation:
    """The management account's side: which accounts to read, and the role to read them through."""

    def __init__(self, aws: AwsClients, *, prefix: str, external_id: str, role_name: str = "") -> None:
        self._aws = aws
        self.prefix = prefix
        self._role_name = role_name
        self._external_id = external_id
        self._caller: dict[str, Any] | None = None

    @property
    def caller(self) -> dict[str, Any]:
        if self._caller is None:
            self._caller = self._aws.sts.get_caller_identity()
        return self._caller

    @property
    def role_label(self) -> str:
        return self._role_name or f"{self.prefix}-org-read-<region>"

    def role_name(self, region: str) -> str:
        """The member stack's role in `region`: IAM names are account-wide and each region has its own stack."""
        return self._role_name or f"{self.prefix}-org-read-{region}"

    @property
    def partition(self) -> str:
        return str(self.caller["Arn"]).split(":")[1]

    def accounts(self, only: Sequence[str] = ()) -> list[Account]:
        """The organisation's active accounts but the one running the view (StackSets deploy no instance to the
        management account); with `only`, those accounts, named where Organizations names them."""
        listed = self._listed(required=not only)
        if only:
            return [Account(account, listed.get(account, "")) for account in dict.fromkeys(only)]
        mine = str(self.caller["Account"])
        accounts = [Account(account, name) for account, name in sorted(listed.items()) if account != mine]
        if not accounts:
            raise OrgViewError("the organisation lists no active member account besides this one")
        return accounts

    def _listed(self, *, required: bool) -> dict[str, str]:
        # ListAccounts pages at most 20 accounts (Organizations API Reference, ListAccounts MaxResults). An account's
        # `State` replaced `Status`, retired on 9 September 2026 (SDK reference, ListAccounts Accounts).
        try:
            pages = self._aws.organizations.get_paginator("list_accounts").paginate()
            return {
                str(account["Id"]): str(account.get("Name", ""))
                for page in pages
                for account in page["Accounts"]
                if (account.get("State") or account.get("Status")) == "ACTIVE"
            }
        except ClientError:
            if required:
                raise
            return {}  # names are a courtesy when the accounts are given

    def open(self, target: Target) -> Member:
        """The member's clients as the org read role, and its stack's view parameter."""
        role = f"arn:{self.partition}:iam::{target.account.id}:role/{self.role_name(target.region)}"
        credentials = self._aws.sts.assume_role(
            RoleArn=role, RoleSessionName=SESSION_NAME, ExternalId=self._external_id, DurationSeconds=SESSION_SECONDS
        )["Credentials"]
        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=target.region,
        )
        aws = AwsClients(session)
        return Member(target.account, target.region, aws, self._stack(aws, target.region))

    def _stack(self, aws: AwsClients, region: str) -> MemberStack:
        name = f"/{self.prefix}/org-view"
        try:
            value = aws.ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError as error:
            # GetParameter answers a missing parameter with ParameterNotFound (SSM API Reference, GetParameter).
            if error.response["Error"]["Code"] == "ParameterNotFound":
                raise OrgViewError(
                    f"no Steward stack {self.prefix!r} with an org read role in {region} (no parameter {name})"
                ) from None
            raise
        try:
            return json.decode(value, type=MemberStack)
        except (DecodeError, ValidationError) as error:
            raise OrgViewError(f"parameter {name} is not Steward's org view: {error}") from None


def pause_state(member: Member, now: datetime) -> Paused | None:
    """The member's pause switch as its functions read it, read afresh."""
    state = StateStore(member.aws, member.stack.state_table)
    return PauseSwitch(member.aws, state, member.stack.pause_parameter, cached=False).state(now)


def targets(accounts: Iterable[Account], regions: Sequence[str]) -> list[Target]:
    return [Target(account, region) for account in accounts for region in regions]


def read_each[T](
    org: Organisation,
    targets: Sequence[Target],
    read: Callable[[Member], T],
    explain: Callable[[Exception], str],
    *,
    workers: int,
) -> list[Reading[T]]:
    """`read` for every target on at most `workers` threads, in the targets' order; any failure of one target (its
    role, its stack, its reads) is that target's error, in `explain`'s words."""

    def one(target: Target) -> Reading[T]:
        try:
            return Reading(target, value=read(org.open(target)))
        except Exception as error:  # isolation: one account's failure is reported, the others are still read
            return Reading(target, error=explain(error))

    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, MAX_WORKERS, len(targets)))) as pool:
        return list(pool.map(one, targets))
