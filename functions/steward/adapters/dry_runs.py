"""What an off-hours dry run reported, so each would-be change is reported once per edge, not once per tick.

One item per service (`service#CLUSTER/SERVICE`, record `dry-run-edge`), the only thing a dry run writes. A live run
never reads it: its holds are the `off-hours` records, so going live mid-night stops the services at the next tick.
The marker of a would-be stop is also the hold the dry run pretends to have, so the later ticks and the morning's
start are decided as the live run decides them, against the service as the stop would have left it at zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from msgspec import Struct
from msgspec.structs import replace

from steward.adapters import db_holds
from steward.adapters import state as state_actions
from steward.adapters.holding import MARKER_LIFETIME, record_from_item, record_item
from steward.adapters.state import Key, StateStore, service_key
from steward.domain.databases import DatabaseHold, DatabaseRecord, DatabaseView
from steward.domain.off_hours import Action, Decision
from steward.domain.services import OffHoursRecord, ServiceView

RECORD = "dry-run-edge"
IAM_ACTIONS = frozenset({state_actions.UPDATE, state_actions.QUERY})


class DryRunEdges:
    """The dry run's report markers. Inactive (a live run): no pretend holds, and nothing read or written."""

    def __init__(self, state: StateStore, *, active: bool) -> None:
        self._state = state
        self._active = active
        # The reported would-be database stops not yet followed by a would-be start (read with the services').
        self.database_holds: dict[str, DatabaseRecord] = {}

    def pretend_holds(self, now: datetime, *, held: Mapping[str, OffHoursRecord]) -> dict[str, OffHoursRecord]:
        """The reported would-be stops not yet followed by a would-be start, keyed by 'cluster/service', for the
        services not really `held`."""
        if not self._active:
            return {}
        holds = {}
        self.database_holds = {}
        for item in self._state.records(RECORD):
            # DynamoDB deletes expired items within days, not at once (DynamoDB TTL): an expired marker is ignored.
            live = int(item.get("expires_at", 0)) > now.timestamp()
            stopped = str(item.get("reported_change", "")).startswith("stop@")
            if str(item["pk"]).startswith(db_holds.PREFIX) and live and stopped:
                self.database_holds[str(item["pk"]).removeprefix(db_holds.PREFIX)] = db_holds.record_from_item(item)
            if not str(item["pk"]).startswith("service#"):
                continue
            key = item["pk"].removeprefix("service#")
            # DynamoDB deletes expired items within days, not at once (DynamoDB TTL): an expired marker is ignored.
            live = int(item.get("expires_at", 0)) > now.timestamp()
            if live and str(item.get("reported_change", "")).startswith("stop@") and key not in held:
                holds[key] = record_from_item(item)
        return holds

    def claim(self, service: ServiceView, decision: Decision, now: datetime) -> ReportClaim | None:
        """The claim on reporting a would-be stop or start once; None for what a dry run does not report."""
        restore = decision.restore
        if decision.action not in (Action.STOP, Action.START) or restore is None:
            return None
        reported = f"{decision.action}@{restore.edge_id}"
        held = record_item(OffHoursRecord(restore.edge_id, replace(restore, status="stopped")))
        values = {"reported_change": reported, **(held if decision.action is Action.STOP else {})}
        key = service_key(service.cluster, service.name, RECORD)
        return ReportClaim(self._state, key, values, now + MARKER_LIFETIME)

    def claim_database(
        self, database: str, action: str, hold: DatabaseHold | None, edge_id: str, now: datetime
    ) -> ReportClaim | None:
        """The claim on reporting a database's would-be stop or start once per edge; None outside a dry run."""
        edge = hold.edge_id if hold is not None else edge_id
        if not self._active or action not in ("stop", "start") or not edge:
            return None
        key = Key(pk=f"{db_holds.PREFIX}{database}", sk=RECORD)
        values: dict[str, object] = {"reported_change": f"{action}@{edge}"}
        if action == "stop" and hold is not None:
            # The would-be hold, so the morning's would-be start is decided (and reported) as the live run's.
            values.update(db_holds.record_item(DatabaseRecord(edge, replace(hold, status="stopped"))))
        return ReportClaim(self._state, key, values, now + MARKER_LIFETIME)


class ReportClaim(Struct, frozen=True):
    """Taken by the one tick that reports a would-be change; refused to every later tick of the same episode."""

    state: StateStore
    key: Key
    values: dict[str, object]
    expires: datetime

    def take(self) -> bool:
        written = self.state.update(
            self.key,
            {name: value for name, value in self.values.items() if value is not None},
            condition="attribute_not_exists(reported_change) OR reported_change <> :reported",
            condition_values={":reported": self.values["reported_change"]},
            expires=self.expires,
        )
        return written is not None

    def release(self) -> None:
        """Nothing to undo: reporting cannot fail once the would-be change is claimed."""


def databases_as_left(databases: Sequence[DatabaseView], pretend: Mapping[str, DatabaseRecord]) -> list[DatabaseView]:
    """The databases as the reported would-be stops would have left them: stopped."""
    return [replace(db, status="stopped") if db.key in pretend and db.status == "available" else db for db in databases]


def as_left(services: Sequence[ServiceView], pretend_holds: Mapping[str, OffHoursRecord]) -> list[ServiceView]:
    """The services as the reported would-be stops would have left them: at zero."""
    return [
        replace(view, desired_count=0, running_count=0) if view.key in pretend_holds and view.exists else view
        for view in services
    ]
