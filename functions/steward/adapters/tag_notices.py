"""The daily marker behind the invalid-tags notice: one conditional write per service, tag and value a day, so the
ticks of a whole day say each problem once."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from steward.adapters.state import WRITE, Key, StateStore, service_key
from steward.domain.services import ServiceView, TagProblem

IAM_ACTIONS = frozenset({WRITE})
MARKER_LIFETIME = timedelta(days=2)  # the day's marker outlives the day it is for; the table's TTL removes it


class TagNotices:
    def __init__(self, state: StateStore) -> None:
        self._state = state

    def first_today(self, problems: list[TagProblem], now: datetime) -> list[TagProblem]:
        """The problems not yet said on `now`'s day (UTC), each now marked as said."""
        day = now.astimezone(UTC).date().isoformat()
        return [problem for problem in problems if self._mark(problem, day, now)]

    def _mark(self, problem: TagProblem, day: str, now: datetime) -> bool:
        invalid, resource = problem.invalid, problem.resource
        digest = hashlib.sha256(invalid.value.encode()).hexdigest()[:16]
        sk = f"tag-notice#{day}#{invalid.tag}#{digest}"
        key = (
            service_key(resource.cluster, resource.name, sk)
            if isinstance(resource, ServiceView)
            else Key(pk=f"database#{resource.key}", sk=sk)  # as the database's hold is keyed (adapters/db_holds.py)
        )
        return self._state.put_new(
            key,
            {"tag": invalid.tag, "value": invalid.value[:256]},
            expires=now + MARKER_LIFETIME,
        )
