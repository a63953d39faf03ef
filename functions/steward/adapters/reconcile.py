"""What an idle off-hours tick reads instead of every service and database: one paged tag sweep of the region
(Resource Groups Tagging API GetResources, at most 100 resources a page: ResourcesPerPage "Valid Range: Minimum
value of 1. Maximum value of 100.", Resource Groups Tagging API Reference), and the marker the last full reconcile
left beside the off-hours records (so the records' one Query reads it too).

GetResources returns only tagged (or previously tagged) resources; ECS services and clusters and RDS instances and
clusters are among the resource types it covers. It takes no resource-level permission (Resource "*").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from msgspec import Struct
from pydantic import BaseModel

from steward.adapters import state as state_actions
from steward.adapters.aws import AwsClients
from steward.adapters.holding import RECORD
from steward.adapters.state import Key, StateStore
from steward.domain.reconcile import Fingerprint, Marker, digest, tags_digest

SWEPT_TYPES = ["ecs:service", "ecs:cluster", "rds:db", "rds:cluster"]
PAGE_SIZE = 100
MARKER_PK = "off-hours#reconcile"
IAM_ACTIONS = frozenset({"tag:GetResources", state_actions.WRITE})


class Sweep(Struct, frozen=True):
    tag_sets: dict[str, dict[str, str]]  # ARN -> tags

    @property
    def digest(self) -> str:
        return tags_digest(self.tag_sets)


def sweep(aws: AwsClients) -> Sweep:
    """Every tagged ECS service and cluster and RDS instance and cluster in the region, with its tags."""
    tag_sets: dict[str, dict[str, str]] = {}
    paginator = aws.resourcegroupstaggingapi.get_paginator("get_resources")
    for page in paginator.paginate(ResourceTypeFilters=SWEPT_TYPES, ResourcesPerPage=PAGE_SIZE):
        for mapping in page.get("ResourceTagMappingList", []):
            tags = {str(tag["Key"]): str(tag.get("Value", "")) for tag in mapping.get("Tags") or []}
            tag_sets[str(mapping["ResourceARN"])] = tags
    return Sweep(tag_sets)


@cache
def code_digest() -> str:
    """Steward's own code, as deployed: a new version decides afresh at its first tick (read once a container)."""
    package = Path(__file__).resolve().parents[1]
    hasher = hashlib.sha256()
    for source in sorted(package.rglob("*.py")):
        hasher.update(str(source.relative_to(package)).encode())
        hasher.update(source.read_bytes())
    return hasher.hexdigest()[:16]


def settings_digest(settings: BaseModel) -> str:
    """What the stack was deployed with (scope, lead times, dry run …): a redeploy decides afresh."""
    return digest([settings.model_dump(mode="json"), code_digest()])


def records_digest(items: Iterable[dict[str, Any]]) -> str:
    """Steward's off-hours records as stored (holds, marks, refusals), the marker itself left out."""
    return digest(sorted((item for item in items if item.get("pk") != MARKER_PK), key=lambda item: str(item["pk"])))


def marker_in(items: Iterable[dict[str, Any]]) -> Marker | None:
    for item in items:
        if item.get("pk") == MARKER_PK:
            fingerprint = Fingerprint(str(item["tags"]), str(item["records"]), str(item["schedules"]))
            at, due = datetime.fromisoformat(str(item["at"])), datetime.fromisoformat(str(item["next_due"]))
            return Marker(fingerprint, due, at)
    return None


def remember(state: StateStore, marker: Marker) -> None:
    """Left by every full reconcile; read by the next tick's records Query (same record name, own key)."""
    state.put(
        Key(pk=MARKER_PK, sk=RECORD),
        {
            "tags": marker.fingerprint.tags,
            "records": marker.fingerprint.records,
            "schedules": marker.fingerprint.schedules,
            "next_due": marker.next_due.isoformat(),
            "at": marker.at.isoformat(),
        },
    )
