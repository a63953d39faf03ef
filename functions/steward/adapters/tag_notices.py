"""The daily marker behind the invalid-tags notice: one conditional write per service, tag and value a day, so the
ticks of a whole day say each problem once."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from steward.adapters.state import WRITE, StateStore, service_key
from steward.domain.services import TagProblem

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
        invalid, service = problem.invalid, problem.service
        digest = hashlib.sha256(invalid.value.encode()).hexdigest()[:16]
        return self._state.put_new(
            service_key(service.cluster, service.name, f"tag-notice#{day}#{invalid.tag}#{digest}"),
            {"tag": invalid.tag, "value": invalid.value[:256]},
            expires=now + MARKER_LIFETIME,
        )
