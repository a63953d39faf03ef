"""Holding databases stopped and starting them again: the database side of off-hours.

A hold is the `off-hours` record of `database#instance/ID` or `database#cluster/ID`, written with a condition before
the database is touched (status "stopping"), marked "stopped" once AWS accepted the stop, and deleted once Steward
started it again (or found it already up). A start also logs the database hours saved for the cost digest.
A stop AWS refuses for good is remembered on the edge's marker, so it is tried again at the next off edge only.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from msgspec import Struct
from msgspec.structs import replace

from steward.adapters import state as state_actions
from steward.adapters.aws import RateLimiter
from steward.adapters.holding import MARKER_LIFETIME, RECORD, SAVINGS_LIFETIME
from steward.adapters.rds import Rds
from steward.adapters.state import Key, StateStore
from steward.domain.databases import DatabaseHold, DatabaseRecord, DatabaseView, DbKeptOff

PREFIX = "database#"
SAVINGS = "database-savings"
IAM_ACTIONS = frozenset({state_actions.WRITE, state_actions.UPDATE, state_actions.DELETE, state_actions.QUERY})
DELETE_ACTION = state_actions.DELETE


def _instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def record_item(record: DatabaseRecord) -> dict[str, Any]:
    item: dict[str, Any] = {"edge_id": record.edge_id, "refused": record.refused or None}
    hold = record.hold
    if hold is not None:
        item.update(
            stopped_at=hold.stopped_at.isoformat(),
            stopped_by=hold.stopped_by,
            status=hold.status,
            last_stop_at=hold.last_stop_at.isoformat() if hold.last_stop_at else None,
            auto_started_at=hold.auto_started_at.isoformat() if hold.auto_started_at else None,
            classes=list(hold.classes) or None,
            hold_until=hold.hold_until.isoformat() if hold.hold_until else None,
            engine=hold.engine or None,
            accepted_at=hold.accepted_at.isoformat() if hold.accepted_at else None,
        )
    return item


def record_from_item(item: dict[str, Any]) -> DatabaseRecord:
    hold = None
    stopped_at = _instant(item.get("stopped_at"))
    if stopped_at is not None:
        status = str(item.get("status", "stopped"))
        hold = DatabaseHold(
            stopped_at=stopped_at,
            stopped_by=str(item.get("stopped_by", "schedule")),
            edge_id=str(item.get("edge_id", "")),
            status=status,
            last_stop_at=_instant(item.get("last_stop_at")),
            auto_started_at=_instant(item.get("auto_started_at")),
            classes=tuple(str(name) for name in item.get("classes") or ()),
            hold_until=_instant(item.get("hold_until")),
            engine=str(item.get("engine") or ""),
            # A hold written before accepted_at was recorded: AWS accepted its stop if it says "stopped".
            accepted_at=_instant(item.get("accepted_at")) or (stopped_at if status == "stopped" else None),
        )
    return DatabaseRecord(edge_id=str(item.get("edge_id", "")), hold=hold, refused=str(item.get("refused") or ""))


def key_of(database_key: str) -> Key:
    return Key(pk=PREFIX + database_key, sk=RECORD)


class DatabaseHolds:
    """Steward's holds on databases, and the calls that stop and start them."""

    def __init__(self, rds: Rds, state: StateStore, limit: RateLimiter) -> None:
        self._rds = rds
        self._state = state
        self._limit = limit

    @staticmethod
    def records(items: list[dict[str, Any]]) -> dict[str, DatabaseRecord]:
        """The databases' records among the off-hours `items`, keyed by 'instance/ID' or 'cluster/ID'."""
        return {
            str(item["pk"]).removeprefix(PREFIX): record_from_item(item)
            for item in items
            if str(item["pk"]).startswith(PREFIX)
        }

    def claim(self, db: DatabaseView, hold: DatabaseHold) -> bool:
        """Write the hold before touching the database. False: another run holds it already."""
        return self._state.put_new(key_of(db.key), record_item(DatabaseRecord(hold.edge_id, hold)), unless="stopped_at")

    def claim_restop(self, db: DatabaseView, hold: DatabaseHold, now: datetime) -> bool:
        """One run stops a held database again (AWS started it): the one that moves its last stop to `now`."""
        previous = hold.stop_requested.isoformat()
        written = self._state.update(
            key_of(db.key),
            {"last_stop_at": now.isoformat(), "status": "stopping"},
            condition="attribute_exists(stopped_at) AND (attribute_not_exists(last_stop_at) OR last_stop_at = :prev)",
            condition_values={":prev": previous},
        )
        return written is not None

    def stop(self, db: DatabaseView, hold: DatabaseHold, now: datetime) -> None:
        """Stop it, then mark the hold stopped (AWS's seven days now count from `now`)."""
        self._limit.acquire()
        self._rds.stop(db)
        accepted = hold.accepted_at or now
        stopped = replace(hold, status="stopped", last_stop_at=now, auto_started_at=None, accepted_at=accepted)
        self._state.put(key_of(db.key), record_item(DatabaseRecord(hold.edge_id, stopped)))

    def start(self, db: DatabaseView, hold: DatabaseHold, now: datetime) -> None:
        """Start it, then forget the hold and log what it saved."""
        self._limit.acquire()
        self._rds.start(db)
        self.release(db, hold, now)

    def release(self, db: DatabaseView, hold: DatabaseHold, now: datetime) -> None:
        """Forget the hold (the database is up) and log the hours it was held stopped; none when AWS never accepted
        a stop of it (the hold stayed "stopping"), so the digest counts no hours that were not saved."""
        self._state.delete(key_of(db.key))
        if hold.accepted_at is None:
            return
        self._state.put(
            Key(pk=SAVINGS, sk=f"{now.isoformat()}#{db.key}"),
            {
                "database": db.key,
                "engine": db.engine,
                "classes": list(hold.classes) or None,
                "from": hold.accepted_at.isoformat(),
                "to": now.isoformat(),
                "by": hold.stopped_by,
            },
            expires=now + SAVINGS_LIFETIME,
        )

    def mark(self, db: DatabaseView, edge_id: str, now: datetime, refused: str = "") -> None:
        """Remember an off edge was handled: nothing to hold, or AWS refused the stop (tried next edge)."""
        self._state.put(key_of(db.key), {"edge_id": edge_id, "refused": refused or None}, expires=now + MARKER_LIFETIME)

    def note_auto_start(self, db_key: str, at: datetime) -> bool:
        """AWS announced it is starting a held database: the next look at it stops it again. False: not held (or
        already noted: the event came twice)."""
        written = self._state.update(
            key_of(db_key),
            {"auto_started_at": at.isoformat()},
            condition="attribute_exists(stopped_at) AND attribute_not_exists(auto_started_at)",
        )
        return written is not None

    def kept_stopped_since(self, day: date) -> list[DbKeptOff]:
        """The database-savings log from the UTC `day` on: each hold that ended, its classes, from when until when."""
        return [
            DbKeptOff(
                database=str(item["database"]),
                engine=str(item.get("engine") or ""),
                classes=tuple(str(name) for name in item.get("classes") or ()),
                start=datetime.fromisoformat(str(item["from"])),
                end=datetime.fromisoformat(str(item["to"])),
            )
            for item in self._state.items_of(SAVINGS, from_sk=day.isoformat())
        ]


class DatabaseHoldClaim(Struct, frozen=True):
    holds: DatabaseHolds
    database: DatabaseView
    hold: DatabaseHold

    def take(self) -> bool:
        return self.holds.claim(self.database, self.hold)

    def release(self) -> None:
        """Kept on purpose, as for services: the next tick finishes (or undoes) a stop its record describes."""


class RestopClaim(Struct, frozen=True):
    holds: DatabaseHolds
    database: DatabaseView
    hold: DatabaseHold
    now: datetime

    def take(self) -> bool:
        return self.holds.claim_restop(self.database, self.hold, self.now)

    def release(self) -> None:
        """Kept: the hold says "stopping", so the next tick stops it again if it is still up."""
