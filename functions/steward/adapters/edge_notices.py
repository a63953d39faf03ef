"""Once-only records for what off-hours says around an edge: a heads-up per schedule and edge, a "did not come
back" alert per restore. The restores themselves are the savings log the shared hold step already writes."""

from __future__ import annotations

from datetime import datetime, timedelta

from steward.adapters.holding import Holds
from steward.adapters.state import QUERY, WRITE, Key, StateStore
from steward.domain.services import KeptOff

IAM_ACTIONS = frozenset({WRITE, QUERY})
NOTICE_LIFETIME = timedelta(days=8)


class EdgeNotices:
    def __init__(self, state: StateStore, holds: Holds) -> None:
        self._state = state
        self._holds = holds

    def first_heads_up(self, schedule: str, edge_at: datetime, now: datetime) -> bool:
        return self._first(f"heads-up#{schedule}#{edge_at.isoformat()}", now)

    def first_not_back(self, service: str, restored_at: datetime, now: datetime) -> bool:
        return self._first(f"not-back#{service}#{restored_at.isoformat()}", now)

    def restored_since(self, start: datetime) -> list[KeptOff]:
        """The holds that ended (a start restored them) at or after `start`: one Query of the savings log."""
        return self._holds.kept_off_since_instant(start)

    def _first(self, sk: str, now: datetime) -> bool:
        return self._state.put_new(Key(pk="edge-notice", sk=sk), {"at": now.isoformat()}, expires=now + NOTICE_LIFETIME)
