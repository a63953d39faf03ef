"""What Steward holds and what it has done, as the state table remembers it: the read-only views `steward status`
and `steward history` print. One consistent Scan of the table (it holds a few items per service), each item sorted
into the view it belongs to; an item no view can read is counted, never fatal.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError
from msgspec import Struct

from steward.adapters import db_holds, holding
from steward.adapters.aws import AwsClients
from steward.adapters.rollback_records import DEPLOYMENT, ROLLBACK_MARKER
from steward.adapters.spot_episodes import RECORD as SPOT_RECORD
from steward.adapters.state import StateStore, StateUnavailable, service_key
from steward.domain.databases import DatabaseHold
from steward.domain.services import RestoreRecord, Strategy, StrategyItem

SCAN_ACTIONS = frozenset({"dynamodb:Scan", "dynamodb:GetItem"})


class Held(Struct, frozen=True):
    """A service Steward holds at zero, and the record it will restore."""

    service: str  # cluster/service
    restore: RestoreRecord


class OnDemand(Struct, frozen=True):
    """A service Steward moved to on-demand after a Spot failure (an open Spot episode)."""

    service: str
    since: datetime
    last_signal_at: datetime
    cause: str
    original: Strategy


class Rollback(Struct, frozen=True):
    """A task definition rollback Steward made (the service's rollback marker)."""

    service: str
    at: datetime
    from_task_definition: str
    to_task_definition: str
    alarm: str


class EndedHold(Struct, frozen=True):
    """A hold that has ended (the savings log): how many tasks were kept off, from when until when, by what."""

    service: str
    tasks: int
    start: datetime
    end: datetime
    by: str


class FailedDeployment(Struct, frozen=True):
    service: str
    deployment_id: str
    task_definition: str
    at: datetime
    reason: str


class DigestPosted(Struct, frozen=True):
    day: date  # the day the digest reports on
    posted_at: datetime


class DigestMissed(Struct, frozen=True):
    day: date  # the day the digest could not be built
    reason: str


class HeldDatabase(Struct, frozen=True):
    """A database Steward holds stopped, and why."""

    database: str  # instance/ID or cluster/ID
    hold: DatabaseHold


class Snapshot(Struct, frozen=True):
    held: list[Held]
    on_demand: list[OnDemand]
    rollbacks: list[Rollback]
    ended_holds: list[EndedHold]
    failed_deployments: list[FailedDeployment]
    digests: list[DigestPosted]
    digests_missed: list[DigestMissed]
    unreadable: int = 0  # items that looked like one of these but could not be read
    held_databases: list[HeldDatabase] = []


class Inventory:
    def __init__(self, aws: AwsClients, table_name: str) -> None:
        self._aws = aws
        self._table_name = table_name
        self._state = StateStore(aws, table_name)

    def snapshot(self) -> Snapshot:
        views: dict[str, list[Any]] = {name: [] for name in _VIEWS}
        unreadable = 0
        for item in self._items():
            try:
                kind, view = _classify(item)
            except (KeyError, ValueError, TypeError):
                unreadable += 1
                continue
            if kind:
                views[kind].append(view)
        return Snapshot(**views, unreadable=unreadable)

    def held_now(self, cluster: str, service: str) -> RestoreRecord | None:
        """The service's restore record as it is now (a consistent read), or None once nothing holds it."""
        item = self._state.get(service_key(cluster, service, holding.RECORD))
        return holding.record_from_item(item).restore if item else None

    def _items(self) -> Iterator[dict[str, Any]]:
        paginator = self._aws.dynamodb.get_paginator("scan")
        # A consistent Scan holds every write completed before it began (DynamoDB API Reference, Scan: ConsistentRead).
        try:
            for page in paginator.paginate(TableName=self._table_name, ConsistentRead=True):
                for raw in page.get("Items", []):
                    yield {name: _deserializer.deserialize(value) for name, value in raw.items()}
        except ClientError as error:
            raise StateUnavailable(f"cannot read the state table {self._table_name}: {error}") from error


_deserializer = TypeDeserializer()
_VIEWS = (
    "held",
    "on_demand",
    "rollbacks",
    "ended_holds",
    "failed_deployments",
    "digests",
    "digests_missed",
    "held_databases",
)


def _classify(item: dict[str, Any]) -> tuple[str, Any]:
    """The view an item belongs to ("" for none) and the item read as that view."""
    pk, sk = str(item["pk"]), str(item["sk"])
    if pk.startswith("service#"):
        return _service_item(pk.removeprefix("service#"), sk, item)
    if pk.startswith(db_holds.PREFIX) and sk == holding.RECORD:
        hold = db_holds.record_from_item(item).hold
        return ("held_databases", HeldDatabase(pk.removeprefix(db_holds.PREFIX), hold)) if hold else ("", None)
    if pk == "savings":
        start, end = _instant(item["from"]), _instant(item["to"])
        return "ended_holds", EndedHold(str(item["service"]), int(item["tasks"]), start, end, str(item["by"]))
    if pk == "digest" and item.get("posted_at"):
        return "digests", DigestPosted(date.fromisoformat(sk), _instant(item["posted_at"]))
    if pk == "digest-unavailable":
        return "digests_missed", DigestMissed(date.fromisoformat(sk), str(item.get("reason", "")))
    return "", None


def _service_item(service: str, sk: str, item: dict[str, Any]) -> tuple[str, Any]:
    """A service's record: its hold, its Spot episode, its rollback marker or one of its deployments."""
    if sk == holding.RECORD:
        restore = holding.record_from_item(item).restore
        return ("held", Held(service, restore)) if restore else ("", None)
    if sk == SPOT_RECORD and item.get("status") == "fallback":
        original = tuple(StrategyItem.from_api(raw) for raw in item["original"])
        since, last = _instant(item["fell_back_at"]), _instant(item["last_signal_at"])
        return "on_demand", OnDemand(service, since, last, str(item.get("cause", "")), original)
    if sk == ROLLBACK_MARKER:
        rollback = Rollback(service, _instant(item["at"]), str(item["from"]), str(item["to"]), str(item["alarm"]))
        return "rollbacks", rollback
    if sk.startswith(DEPLOYMENT) and item.get("status") == "FAILED":
        failed = FailedDeployment(
            service,
            str(item["deployment_id"]),
            str(item.get("task_definition", "")),
            _instant(item["updated_at"]),
            str(item.get("reason", "")),
        )
        return "failed_deployments", failed
    return "", None


def _instant(text: Any) -> datetime:
    value = datetime.fromisoformat(str(text))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no timezone")
    return value
