"""Holding services at zero and bringing them back: the one step off-hours and budget actions share.

A hold is a restore record in the state table (`service#CLUSTER/SERVICE`, record `off-hours`) written with a
condition before the service is touched, then the Auto Scaling target held at minimum 0 with scaling suspended,
then desired count 0. Restoring puts the target back exactly, then the count, then forgets the record and logs the
task-hours saved for the cost digest.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from msgspec import Struct
from msgspec.structs import replace

from steward.adapters import ecs as ecs_actions
from steward.adapters import state as state_actions
from steward.adapters.aws import RateLimiter
from steward.adapters.ecs import Ecs
from steward.adapters.state import Key, StateStore, service_key
from steward.domain.services import KeptOff, OffHoursRecord, RestoreRecord, ScalableTarget, ServiceView

RECORD = "off-hours"
MARKER_LIFETIME = timedelta(days=8)  # an edge marker outlives the longest gap between two edges of a weekly schedule
SAVINGS_LIFETIME = timedelta(days=40)

# The IAM actions holding a service at zero calls, and those restoring it add.
HOLD_ACTIONS = ecs_actions.SCALING_ACTIONS | {state_actions.WRITE, state_actions.QUERY}
RESTORE_ACTIONS = HOLD_ACTIONS | {state_actions.DELETE}


class WriteLimits(Struct, frozen=True):
    """Client-side rate limits on the scarce write quotas: ECS UpdateService and Auto Scaling registrations."""

    ecs: RateLimiter
    autoscaling: RateLimiter

    @classmethod
    def per_second(cls, rate: float) -> WriteLimits:
        return cls(ecs=RateLimiter(rate), autoscaling=RateLimiter(rate))


def record_item(record: OffHoursRecord) -> dict[str, Any]:
    item: dict[str, Any] = {"edge_id": record.edge_id}
    restore = record.restore
    if restore is not None:
        item.update(
            desired_count=restore.desired_count,
            target=restore.target.as_record() if restore.target else None,
            stopped_at=restore.stopped_at.isoformat(),
            stopped_by=restore.stopped_by,
            status=restore.status,
            hold_until=restore.hold_until.isoformat() if restore.hold_until else None,
        )
    return item


def record_from_item(item: dict[str, Any]) -> OffHoursRecord:
    restore = None
    if item.get("desired_count"):
        restore = RestoreRecord(
            desired_count=int(item["desired_count"]),
            target=ScalableTarget.from_record(item["target"]) if item.get("target") else None,
            stopped_at=datetime.fromisoformat(item["stopped_at"]),
            stopped_by=str(item.get("stopped_by", "schedule")),
            edge_id=str(item.get("edge_id", "")),
            status=str(item.get("status", "stopped")),
            hold_until=datetime.fromisoformat(item["hold_until"]) if item.get("hold_until") else None,
        )
    return OffHoursRecord(edge_id=str(item.get("edge_id", "")), restore=restore)


class Holds:
    """Steward's holds on services: the restore records and the calls that stop and restore a service."""

    def __init__(self, ecs: Ecs, state: StateStore, limits: WriteLimits) -> None:
        self._ecs = ecs
        self._state = state
        self._limits = limits

    def items(self) -> list[dict[str, Any]]:
        """Every off-hours record as stored: the services' and the databases' (one query for both)."""
        return list(self._state.records(RECORD))

    def records(self, items: list[dict[str, Any]] | None = None) -> dict[str, OffHoursRecord]:
        """Every service's record, keyed by 'cluster/service' (from `items` when the caller already read them)."""
        return {
            item["pk"].removeprefix("service#"): record_from_item(item)
            for item in (self.items() if items is None else items)
            if str(item["pk"]).startswith("service#")
        }

    def claim(self, service: ServiceView, restore: RestoreRecord) -> bool:
        """Write the restore record before touching the service. False: another run already holds it."""
        record = OffHoursRecord(edge_id=restore.edge_id, restore=restore)
        return self._state.put_new(_key(service), record_item(record), unless="desired_count")

    def stop(self, service: ServiceView, restore: RestoreRecord) -> None:
        """Target min 0 and scaling suspended, then desired count 0, then mark the record stopped."""
        if restore.target is not None:
            self._limits.autoscaling.acquire()
            self._ecs.hold_scalable_target_at_zero(service.cluster, service.name, restore.target)
        self._limits.ecs.acquire()
        self._ecs.set_desired_count(service.cluster, service.name, 0)
        stopped = replace(restore, status="stopped")
        self._state.put(_key(service), record_item(OffHoursRecord(restore.edge_id, stopped)))

    def restore(self, service: ServiceView, restore: RestoreRecord, *, keep_count: bool, now: datetime) -> None:
        """The target exactly as recorded, then the desired count (unless someone scaled it by hand), then forget."""
        if restore.target is not None:
            self._limits.autoscaling.acquire()
            self._ecs.set_scalable_target(service.cluster, service.name, restore.target)
        if not keep_count:
            self._limits.ecs.acquire()
            self._ecs.set_desired_count(service.cluster, service.name, restore.desired_count)
        self._state.delete(_key(service))
        self._log_saving(service, restore, now)

    def mark(self, service: ServiceView, edge_id: str, now: datetime) -> None:
        """Remember an off edge was handled for a service that was already at zero (nothing to restore)."""
        self._state.put(_key(service), {"edge_id": edge_id}, expires=now + MARKER_LIFETIME)

    def _log_saving(self, service: ServiceView, restore: RestoreRecord, until: datetime) -> None:
        """What the cost digest prices as savings: how many tasks were kept off, from when until when."""
        self._state.put(
            Key(pk="savings", sk=f"{until.isoformat()}#{service.key}"),
            {
                "service": service.key,
                "tasks": restore.desired_count,
                "from": restore.stopped_at.isoformat(),
                "to": until.isoformat(),
                "by": restore.stopped_by,
            },
            expires=until + SAVINGS_LIFETIME,
        )

    def kept_off_since(self, day: date) -> list[KeptOff]:
        """The savings log from the UTC `day` on: what each hold that has ended kept off, from when until when."""
        return self._savings(day.isoformat())

    def kept_off_since_instant(self, start: datetime) -> list[KeptOff]:
        """The holds that ended at or after `start` (UTC)."""
        return self._savings(start.astimezone(UTC).isoformat())

    def _savings(self, from_sk: str) -> list[KeptOff]:
        return [
            KeptOff(
                service=item["service"],
                tasks=int(item["tasks"]),
                start=datetime.fromisoformat(item["from"]),
                end=datetime.fromisoformat(item["to"]),
            )
            for item in self._state.items_of("savings", from_sk=from_sk)
        ]


def _key(service: ServiceView) -> Key:
    return service_key(service.cluster, service.name, RECORD)


class HoldClaim(Struct, frozen=True):
    """A hold is claimed by writing its restore record (status "stopping") before the service is touched."""

    holds: Holds
    service: ServiceView
    restore: RestoreRecord

    def take(self) -> bool:
        return self.holds.claim(self.service, self.restore)

    def release(self) -> None:
        """Kept on purpose: a failed stop's restore record is what lets the next off-hours tick finish the stop (or
        undo it), so a service is never left part-stopped without a record of how to restore it."""
