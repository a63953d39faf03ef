"""When an off-hours tick can skip the full reconcile. Pure: no AWS, no clock.

A full reconcile reads every service and database; most ticks find nothing to do. So each full reconcile records a
fingerprint of what decides (every steward:* tag in the account's tag sweep, Steward's own records, the schedules
document's version) and the first instant something may be due: the next edge of any schedule (a database's lead
and the heads-up before an off edge included), a keep-awake or budget hold ending, a restored service's come-back
check. A later tick whose fingerprint is unchanged, before that instant, is *idle*: nothing it could decide differs
from what the last reconcile decided. Anything else - a tag or record changed, an edge passed (a missed tick
included), the last reconcile changed something or left something in motion - means a full reconcile. A full
reconcile also comes at least every MAX_IDLE, so what no fingerprint sees (a desired count changed by hand, a new
service in a tagged cluster) is looked at within hours.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from msgspec import Struct

from steward.domain.schedules import Schedule
from steward.domain.services import KEEP_AWAKE_TAG, read_instant

MAX_IDLE = timedelta(hours=6)
STEWARD_PREFIX = "steward:"


class Fingerprint(Struct, frozen=True):
    tags: str  # digest of every swept resource's steward:* tags
    records: str  # digest of Steward's off-hours records
    schedules: str  # the schedules parameter's version, the stack's settings and Steward's code


class Marker(Struct, frozen=True):
    """What the last full reconcile saw, and until when nothing is due."""

    fingerprint: Fingerprint
    next_due: datetime
    at: datetime


def digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def tags_digest(tag_sets: Mapping[str, Mapping[str, str]]) -> str:
    """The steward:* tags of each swept resource (ARN -> tags): a tag added, changed or removed changes it."""
    return digest(
        {arn: {k: v for k, v in tags.items() if k.startswith(STEWARD_PREFIX)} for arn, tags in tag_sets.items()}
    )


def idle_reason(marker: Marker | None, fingerprint: Fingerprint, now: datetime) -> str | None:
    """Why this tick may skip the full reconcile, or None when it must not."""
    if marker is None or now >= marker.next_due or now < marker.at:
        return None
    if marker.fingerprint != fingerprint:
        return None
    return f"nothing due before {marker.next_due.isoformat()}; tags, records and schedules unchanged"


def next_due(
    now: datetime,
    schedules: Iterable[Schedule],
    tag_sets: Iterable[Mapping[str, str]],
    holds_until: Iterable[datetime],
    checks: Iterable[datetime],
    *,
    heads_up: timedelta,
) -> datetime:
    """The first instant after `now` something may be due, at most MAX_IDLE away."""
    candidates = [now + MAX_IDLE, *holds_until, *checks]
    for schedule in schedules:
        start, stop = schedule.next_edge(now, "on"), schedule.next_edge(now, "off")
        if start is not None:
            candidates += [start.at, start.at - schedule.database_lead]
        if stop is not None:
            candidates += [stop.at, stop.at - heads_up]
    for tags in tag_sets:
        until = read_instant(tags, KEEP_AWAKE_TAG)
        if isinstance(until, datetime):
            candidates.append(until)
    return min(moment for moment in candidates if moment > now)
