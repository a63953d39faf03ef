"""Spot episodes in the state table (`service#CLUSTER/SERVICE`, record `spot-fallback`): one item per service per
Spot drought, from the first signal (which claims it) through the fallback to the shift back.

Instants are stored as ISO 8601 in UTC, so they compare as strings in time order (the conditions rely on it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from msgspec import Struct

from steward.adapters import state as state_actions
from steward.adapters.state import Key, StateStore, service_key
from steward.domain.services import StrategyItem
from steward.domain.spot import Episode, StoredEpisode

RECORD = "spot-fallback"
DRY_RUN_RECORD = "dry-run-spot-fallback"  # what a dry run reported: never read as an episode
DRY_RUN_LIFETIME = timedelta(days=8)  # as long as off-hours keeps its dry-run report markers
EPISODE_ACTIONS = frozenset({state_actions.READ, state_actions.UPDATE, state_actions.DELETE, state_actions.QUERY})


def instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class OpenEpisode(Struct, frozen=True):
    """A service Steward has put on on-demand, as the state table remembers it."""

    cluster: str
    name: str
    episode: Episode

    @property
    def label(self) -> str:
        return f"{self.cluster}/{self.name}"


class EpisodeClaim:
    """The claim on one service's episode, taken by the write that noted the signal; a crashed invocation's claim is
    taken over when the change is made. A dry run holds none."""

    def __init__(self, state: StateStore, key: Key, stored: StoredEpisode, *, claim_id: str, holder: str, at: str):
        self._state, self._key, self._claim_id, self._holder, self._at = state, key, claim_id, holder, at
        self.stored = stored
        self._owned = holder == claim_id

    def take(self) -> bool:
        if self._owned:
            return True
        taken = self._state.update(
            self._key,
            {"claim_id": self._claim_id, "claimed_at": self._at},
            condition="claim_id = :crashed AND attribute_not_exists(fell_back_at)",
            condition_values={":crashed": self._holder},
        )
        self._owned = taken is not None
        return self._owned

    def release(self) -> None:
        if self._owned:
            self._state.delete(self._key)
            self._owned = False

    @contextmanager
    def released_on_error(self) -> Iterator[None]:
        """Reads made under the claim: if one fails, no claim is left behind, so Lambda's retry of the event acts."""
        try:
            yield
        except (ClientError, BotoCoreError):
            self.release()
            raise

    def start(self, episode: Episode) -> None:
        """Write the episode ahead of changing the strategy: what to go back to, and when and why it began."""
        self._write(
            {
                "status": "fallback",
                "original": [item.as_api() for item in episode.original],
                "fallback": [item.as_api() for item in episode.fallback],
                "fell_back_at": instant(episode.fell_back_at),
                "cause": episode.cause,
            }
        )

    def remember_refusal(self, reason: str, until: datetime) -> None:
        self._write({"status": "ignored", "reason": reason}, expires=until)

    def _write(self, values: dict[str, Any], *, expires: datetime | None = None) -> None:
        self._state.update(self._key, {**values, "claim_id": self._claim_id, "claimed_at": self._at}, expires=expires)


class SpotEpisodes:
    def __init__(self, state: StateStore, *, dry_run: bool) -> None:
        self._state = state
        self._dry_run = dry_run

    def note_signal(self, cluster: str, service: str, at: datetime) -> EpisodeClaim:
        """Record the signal and claim the episode if nobody has: one request. A dry run writes nothing: it reads."""
        key, claim_id, when = service_key(cluster, service, RECORD), uuid.uuid4().hex, instant(at)
        if self._dry_run:
            item = self._state.get(key)
        else:
            # DynamoDB has no max(): the signal time is written only over an older one, and a refused write still
            # answers with the item, so a late or redelivered signal costs the same one request as any duplicate.
            item = self._state.update(
                key,
                {"last_signal_at": when},
                if_absent={"claim_id": claim_id, "claimed_at": when},
                condition="attribute_not_exists(last_signal_at) OR last_signal_at <= :signal_at",
                condition_values={":signal_at": when},
                current_if_refused=True,
            )
            if not item:
                raise RuntimeError(f"update of {cluster}/{service} returned nothing")
        holder = str(item.get("claim_id", "")) if item else ""
        stored = _stored(item or {}, ours=item is None or holder == claim_id)
        return EpisodeClaim(self._state, key, stored, claim_id=claim_id, holder=holder, at=when)

    def report_once(self, cluster: str, service: str, at: datetime, stable: timedelta) -> ReportedDrought:
        """The claim that makes a dry run report a would-be fallback once per Spot drought."""
        return ReportedDrought(self._state, service_key(cluster, service, DRY_RUN_RECORD), at, stable)

    def open_episodes(self) -> list[OpenEpisode]:
        """Every service Steward has put on on-demand."""
        episodes = []
        for item in self._state.records(RECORD):
            if item.get("status") == "fallback":
                cluster, _, name = item["pk"].removeprefix("service#").partition("/")
                episodes.append(OpenEpisode(cluster, name, _episode(item)))
        return episodes

    def forget(self, cluster: str, name: str) -> None:
        self._state.delete(service_key(cluster, name, RECORD))


def _stored(item: dict[str, Any], *, ours: bool) -> StoredEpisode:
    claimed_at = item.get("claimed_at")
    return StoredEpisode(
        status=str(item.get("status", "")),
        ours=ours,
        claimed_at=datetime.fromisoformat(str(claimed_at)) if claimed_at else None,
        fell_back_at=str(item.get("fell_back_at", "")),
        reason=str(item.get("reason", "")),
    )


def _episode(item: dict[str, Any]) -> Episode:
    return Episode(
        original=tuple(StrategyItem.from_api(raw) for raw in item["original"]),
        fallback=tuple(StrategyItem.from_api(raw) for raw in item["fallback"]),
        fell_back_at=datetime.fromisoformat(item["fell_back_at"]),
        last_signal_at=datetime.fromisoformat(item["last_signal_at"]),
        cause=str(item.get("cause", "")),
    )


class ReportedDrought:
    """A dry run's claim on reporting one Spot drought: refused while the service's last signal is younger than the
    stable period (a live episode would still be open); each signal moves that clock forward, never back."""

    def __init__(self, state: StateStore, key: Key, at: datetime, stable: timedelta) -> None:
        self._state, self._key, self._at, self._stable = state, key, at, stable

    def take(self) -> bool:
        when, expires = instant(self._at), self._at + DRY_RUN_LIFETIME
        taken = self._state.update(
            self._key,
            {"last_signal_at": when},
            condition="attribute_not_exists(last_signal_at) OR last_signal_at < :quiet_since",
            condition_values={":quiet_since": instant(self._at - self._stable)},
            expires=expires,
        )
        if taken is None:
            self._state.update(
                self._key,
                {"last_signal_at": when},
                condition="last_signal_at < :signal_at",
                condition_values={":signal_at": when},
                expires=expires,
            )
        return taken is not None

    def release(self) -> None:
        """Nothing to undo: reporting cannot fail once the drought is claimed."""
