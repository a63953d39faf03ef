"""The words every capability shares about an ECS service: its steward:* tags, what ECS says about it now, and what
Steward needs to bring it back after holding it at zero. Pure: no AWS, no clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgspec import Struct, field

SCHEDULE_TAG = "steward:schedule"
KEEP_AWAKE_TAG = "steward:keep-awake-until"
PROTECTED_TAG = "steward:protected"
CHANNEL_TAG = "steward:channel"


class ScalableTarget(Struct, frozen=True):
    min_capacity: int
    max_capacity: int
    suspended: dict[str, bool] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        return {"min": self.min_capacity, "max": self.max_capacity, "suspended": dict(self.suspended)}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ScalableTarget:
        return cls(
            min_capacity=int(record["min"]),
            max_capacity=int(record["max"]),
            suspended={key: bool(value) for key, value in dict(record.get("suspended") or {}).items()},
        )


class ServiceView(Struct, frozen=True):
    """What ECS says about a service right now."""

    cluster: str
    name: str
    arn: str
    desired_count: int
    tags: dict[str, str]
    scheduling_strategy: str = "REPLICA"
    deployment_in_progress: bool = False
    exists: bool = True
    task_definition: str = ""
    fargate_spot_tasks: int = 0  # of its desired count, how many its capacity provider strategy puts on Fargate Spot

    @property
    def key(self) -> str:
        return f"{self.cluster}/{self.name}"

    @property
    def schedule_name(self) -> str | None:
        return self.tags.get(SCHEDULE_TAG) or None

    @property
    def protected(self) -> bool:
        return self.tags.get(PROTECTED_TAG, "").strip().lower() == "true"


class RestoreRecord(Struct, frozen=True):
    """What Steward needs to bring a service back exactly as it was. `desired_count` is never 0."""

    desired_count: int
    target: ScalableTarget | None
    stopped_at: datetime
    stopped_by: str  # "schedule" or "budget:<name>"
    edge_id: str
    status: str = "stopping"  # "stopping" until the service is at 0, then "stopped"
    hold_until: datetime | None = None  # a budget stop: the instant its budget period resets

    def __post_init__(self) -> None:
        if self.desired_count <= 0:
            raise ValueError("a restore record never holds a desired count of 0")


class OffHoursRecord(Struct, frozen=True):
    """The per-service memory: which off edge was handled, and the restore record if Steward holds it off."""

    edge_id: str
    restore: RestoreRecord | None = None


def parse_instant(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def keep_awake_until(service: ServiceView) -> datetime | None:
    """The instant in the service's steward:keep-awake-until tag, or None when absent or unreadable."""
    value = service.tags.get(KEEP_AWAKE_TAG)
    return parse_instant(value) if value else None


def kept_awake(service: ServiceView, now: datetime) -> bool:
    until = keep_awake_until(service)
    return until is not None and until > now


SWITCH_WORDS = {"true": True, "on": True, "yes": True, "false": False, "off": False, "no": False}


def switch(value: str | None) -> bool | None:
    """A switch tag's value: true/on/yes or false/off/no in any case, spaces around it ignored; None for anything
    else (or no tag), so each capability keeps its own default."""
    return SWITCH_WORDS.get(value.strip().lower()) if value is not None else None


# ------------------------------------------------------------------ capacity provider strategies

FARGATE, FARGATE_SPOT = "FARGATE", "FARGATE_SPOT"


class StrategyItem(Struct, frozen=True):
    provider: str
    weight: int = 0
    base: int = 0

    def as_api(self) -> dict[str, Any]:
        return {"capacityProvider": self.provider, "weight": self.weight, "base": self.base}

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> StrategyItem:
        return cls(
            provider=str(raw["capacityProvider"]), weight=int(raw.get("weight", 0)), base=int(raw.get("base", 0))
        )


Strategy = tuple[StrategyItem, ...]


def spot_tasks(strategy: Strategy, desired: int, spot_providers: set[str]) -> int:
    """How many of `desired` tasks the strategy places on Spot: the base first, the rest split by weight."""
    remaining = desired
    on_spot = 0
    for item in strategy:
        placed = min(item.base, remaining)
        remaining -= placed
        on_spot += placed if item.provider in spot_providers else 0
    total_weight = sum(item.weight for item in strategy)
    if remaining > 0 and total_weight > 0:
        spot_weight = sum(item.weight for item in strategy if item.provider in spot_providers)
        on_spot += round(remaining * spot_weight / total_weight)
    return on_spot


class KeptOff(Struct, frozen=True):
    """Tasks a hold at zero kept off: held now (until `end` = now) or ended (from the savings log)."""

    service: str  # cluster/service
    tasks: int
    start: datetime
    end: datetime
