"""What deploy rollback remembers in the state table: each service's deployment history (`deployment#ID`), its
rollback marker (`rollback`: the last rollback Steward made, and the cooldown), and one claim per alarm episode
(`alarm#ARN`, `episode#<state timestamp>`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from msgspec import Struct

from steward.adapters import state as state_actions
from steward.adapters.holding import RECORD as OFF_HOURS_RECORD
from steward.adapters.state import Key, StateStore, StateUnavailable, service_key
from steward.domain.rollback import STATUS_ORDER, Deployment, RollbackMarker
from steward.observability import logger

DEPLOYMENT = "deployment#"
ROLLBACK_MARKER = "rollback"
HISTORY_LIFETIME = timedelta(days=90)
EPISODE_LIFETIME = timedelta(days=7)
# A later update wins; at the same instant a final status beats IN_PROGRESS.
LATER_STATE = "attribute_not_exists(updated_at) OR updated_at < :u OR (updated_at = :u AND status_rank < :r)"

IAM_ACTIONS = frozenset(
    {state_actions.READ, state_actions.WRITE, state_actions.UPDATE, state_actions.DELETE, state_actions.QUERY}
)


class RecordedDeployment(Struct, frozen=True):
    deployment: Deployment
    thread_ts: str | None = None  # the Slack thread its status messages go to


class StoredMarker(Struct, frozen=True):
    """The service's rollback marker as read, kept whole so a released claim puts it back exactly."""

    marker: RollbackMarker | None = None
    item: dict[str, Any] | None = None


def _deployment(item: dict[str, Any]) -> Deployment:
    return Deployment(
        deployment_id=str(item["deployment_id"]),
        task_definition=str(item.get("task_definition", "")),
        status=str(item["status"]),
        started_at=datetime.fromisoformat(item["started_at"]),
        updated_at=datetime.fromisoformat(item["updated_at"]),
        reason=str(item.get("reason", "")),
        by_steward=bool(item.get("by_steward", False)),
    )


def _deployment_item(deployment: Deployment) -> dict[str, Any]:
    return {
        "deployment_id": deployment.deployment_id,
        "task_definition": deployment.task_definition,
        "status": deployment.status,
        "status_rank": STATUS_ORDER.get(deployment.status, 0),
        "started_at": deployment.started_at.isoformat(),
        "updated_at": deployment.updated_at.isoformat(),
        "reason": deployment.reason,
        "by_steward": deployment.by_steward,
    }


def _marker_item(marker: RollbackMarker) -> dict[str, Any]:
    return {"to": marker.to, "from": marker.from_, "at": marker.at.isoformat(), "alarm": marker.alarm}


class RollbackRecords:
    def __init__(self, state: StateStore) -> None:
        self._state = state

    def deployment(self, cluster: str, service: str, deployment_id: str) -> RecordedDeployment | None:
        item = self._state.get(service_key(cluster, service, DEPLOYMENT + deployment_id))
        return RecordedDeployment(_deployment(item), item.get("slack_ts")) if item else None

    def history(self, cluster: str, service: str) -> tuple[Deployment, ...]:
        return tuple(_deployment(item) for item in self._state.items_of(f"service#{cluster}/{service}", DEPLOYMENT))

    def record(
        self, cluster: str, service: str, deployment: Deployment, *, thread_ts: str | None, expires: datetime
    ) -> RecordedDeployment | None:
        """Store the deployment's state unless a later one is stored; None when one was (recorded meanwhile)."""
        item = _deployment_item(deployment)
        if thread_ts:
            item["slack_ts"] = thread_ts
        written = self._state.update(
            service_key(cluster, service, DEPLOYMENT + deployment.deployment_id),
            item,
            condition=LATER_STATE,
            condition_values={":u": item["updated_at"], ":r": item["status_rank"]},
            expires=expires,
        )
        return RecordedDeployment(deployment, written.get("slack_ts")) if written is not None else None

    def remember_thread(self, cluster: str, service: str, deployment_id: str, thread_ts: str) -> None:
        self._state.update(service_key(cluster, service, DEPLOYMENT + deployment_id), {"slack_ts": thread_ts})

    def held_off(self, cluster: str, service: str) -> bool:
        """Off-hours (or a budget action) holds the service at zero."""
        held = self._state.get(service_key(cluster, service, OFF_HOURS_RECORD))
        return bool(held and held.get("desired_count"))

    def marker(self, cluster: str, service: str) -> StoredMarker:
        item = self._state.get(service_key(cluster, service, ROLLBACK_MARKER))
        if not item:
            return StoredMarker()
        marker = RollbackMarker(
            to=str(item.get("to", "")),
            from_=str(item.get("from", "")),
            at=datetime.fromisoformat(item["at"]),
            alarm=str(item.get("alarm", "")),
        )
        return StoredMarker(marker, item)

    def episode_claim(
        self,
        alarm_arn: str,
        entered_alarm_at: datetime,
        service: str,
        *,
        now: datetime,
        marker: RollbackMarker | None,
        previous: StoredMarker,
    ) -> EpisodeClaim:
        """The claim on an alarm episode, written after every read; `marker` is the rollback marker to write with it
        (a task definition rollback), `previous` the one read, put back if the rollback does not happen."""
        cluster, name = service.split("/", 1)
        return EpisodeClaim(
            self._state,
            Key(pk=f"alarm#{alarm_arn}", sk=f"episode#{entered_alarm_at.isoformat()}"),
            service,
            expires=now + EPISODE_LIFETIME,
            marker_key=service_key(cluster, name, ROLLBACK_MARKER),
            marker=_marker_item(marker) if marker else None,
            marker_expires=now + HISTORY_LIFETIME,
            previous=previous,
        )


class EpisodeClaim:
    """One answer per alarm episode. A task definition rollback also writes the service's rollback marker (its
    cooldown, and how its own deployment is recognised) before the change; release puts the marker back as it was."""

    def __init__(
        self,
        state: StateStore,
        episode: Key,
        service: str,
        *,
        expires: datetime,
        marker_key: Key,
        marker: dict[str, Any] | None,
        marker_expires: datetime,
        previous: StoredMarker,
    ) -> None:
        self._state = state
        self._episode = episode
        self._service = service
        self._expires = expires
        self._marker_key = marker_key
        self._marker = marker
        self._marker_expires = marker_expires
        self._previous = previous

    def take(self) -> bool:
        if not self._state.put_new(self._episode, {"service": self._service}, expires=self._expires):
            return False
        if self._marker is not None:
            try:
                self._state.put(self._marker_key, self._marker, expires=self._marker_expires)
            except StateUnavailable:
                self.release()
                raise
        return True

    def release(self) -> None:
        """Put back the rollback marker as it was and drop the episode's claim, so a retry decides afresh."""
        try:
            if self._marker is not None:
                if self._previous.item:
                    self._state.put(self._marker_key, self._previous.item)
                else:
                    self._state.delete(self._marker_key)
            self._state.delete(self._episode)
        except StateUnavailable as error:
            claim = f"{self._episode.pk}/{self._episode.sk}"
            logger.error("claim not released", extra={"claim": claim, "error": str(error)})
