"""The words every capability shares about an ECS service: its steward:* tags, what ECS says about it now, and what
Steward needs to bring it back after holding it at zero. Pure: no AWS, no clock."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from msgspec import Struct, field

if TYPE_CHECKING:
    from steward.domain.databases import DatabaseView

SCHEDULE_TAG = "steward:schedule"
KEEP_AWAKE_TAG = "steward:keep-awake-until"
PROTECTED_TAG = "steward:protected"
CHANNEL_TAG = "steward:channel"
SPOT_FALLBACK_TAG = "steward:spot-fallback"
ROLLBACK_TAG = "steward:rollback"


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
    running_count: int = 0  # tasks running now (DescribeServices runningCount)
    launch_type: str = ""  # FARGATE, EC2, EXTERNAL, MANAGED_INSTANCES; "" when it has a capacity provider strategy
    capacity_providers: tuple[str, ...] = ()  # its strategy's providers: FARGATE, FARGATE_SPOT or EC2-backed ones

    @property
    def key(self) -> str:
        return f"{self.cluster}/{self.name}"

    @property
    def schedule_name(self) -> str | None:
        return self.tags.get(SCHEDULE_TAG) or None

    @property
    def protection(self) -> bool | InvalidTag | None:
        return read_switch(self.tags, PROTECTED_TAG)

    @property
    def protected(self) -> bool:
        """Tagged protected, or with a protected tag Steward cannot read: an unreadable one protects too."""
        return self.protection is not False and self.protection is not None

    @property
    def protected_because(self) -> str:
        """Why it counts as protected, as the skip reason says it."""
        reading = self.protection
        if isinstance(reading, InvalidTag):
            return reading.sentence()
        return f"{PROTECTED_TAG}={self.tags.get(PROTECTED_TAG, '')}"


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
    """An ISO-8601 instant with its zone (Z or an offset), exactly as written; None for anything else."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def keep_awake_until(service: ServiceView) -> datetime | InvalidTag | None:
    """The instant in the service's steward:keep-awake-until tag, None without one, or why it cannot be read."""
    return read_instant(service.tags, KEEP_AWAKE_TAG)


def kept_awake(service: ServiceView, now: datetime) -> bool:
    """Awake until a later instant, or with a keep-awake tag Steward cannot read (held awake until it is fixed)."""
    until = keep_awake_until(service)
    return isinstance(until, InvalidTag) or (until is not None and until > now)


# ------------------------------------------------------------------ reading tag values: one vocabulary

# Switch tags take these words in any case, exactly as written: IAM's StringEqualsIgnoreCase compares the value as
# written too, so a value with spaces around it is reported, never read as the word inside.
SWITCH_WORDS = {"true": True, "on": True, "yes": True, "false": False, "off": False, "no": False}
ON_WORDS = tuple(word for word, on in SWITCH_WORDS.items() if on)
SWITCH_SPELLINGS = "true/false, on/off or yes/no (any case)"
# Slack channel IDs: C… public, G… private (older), D… direct; the #name is not accepted (chat.postMessage).
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{8,}")

# What Steward does while a tag's value cannot be read: never an action the tag would have prevented.
TREATED_AS = {
    PROTECTED_TAG: "treated as protected: no off-hours or budget action touches it",
    KEEP_AWAKE_TAG: "held awake: off-hours and budget actions do not stop it",
    SPOT_FALLBACK_TAG: "no Spot fallback",
    ROLLBACK_TAG: "no rollback (read as off)",
    SCHEDULE_TAG: "off-hours does not stop or start it",
    CHANNEL_TAG: "its messages go to Steward's channel only",
}
# A valid value for the fix command when the written one gives no hint of the intended value.
EXAMPLE = {PROTECTED_TAG: "true", SPOT_FALLBACK_TAG: "on", ROLLBACK_TAG: "on", CHANNEL_TAG: "C0123456789"}


class InvalidTag(Struct, frozen=True):
    """A steward:* tag value Steward cannot read: why, how to fix it, and what Steward does until it is fixed."""

    tag: str
    value: str
    why: str
    fix: str  # in words
    example: str  # a valid value, for the `aws ecs tag-resource` command that fixes it

    @property
    def treated_as(self) -> str:
        return TREATED_AS.get(self.tag, "ignored")

    def sentence(self) -> str:
        """For a reason or a log line: steward:protected='maybe' is not a switch word; treated as protected: …"""
        return f"{self.tag}={self.value!r} {self.why}; {self.treated_as}"


class TagProblem(Struct, frozen=True):
    """One unreadable tag value on one service or database."""

    resource: ServiceView | DatabaseView
    invalid: InvalidTag


def read_switch(tags: Mapping[str, str], tag: str) -> bool | InvalidTag | None:
    """A switch tag's value: True or False, None without the tag, or why it cannot be read."""
    value = tags.get(tag)
    if value is None:
        return None
    reading = SWITCH_WORDS.get(value.lower())
    if reading is not None:
        return reading
    word = value.strip().lower()
    if word in SWITCH_WORDS:
        return InvalidTag(tag, value, "has spaces around it", f"set it to {word!r}, without spaces", word)
    return InvalidTag(tag, value, "is not a switch word", f"set it to {SWITCH_SPELLINGS}", EXAMPLE.get(tag, "on"))


def read_instant(tags: Mapping[str, str], tag: str) -> datetime | InvalidTag | None:
    """An ISO-8601 instant with its zone, None without the tag, or why it cannot be read."""
    value = tags.get(tag)
    if value is None:
        return None
    instant = parse_instant(value)
    if instant is not None:
        return instant
    if parse_instant(value.strip()) is not None:
        return InvalidTag(tag, value, "has spaces around it", "remove the spaces", value.strip())
    try:
        local = datetime.fromisoformat(value.strip())
    except ValueError:
        return InvalidTag(
            tag,
            value,
            "is not an ISO-8601 instant",
            "set an instant with its zone, such as 2026-11-28T23:00:00Z or 2026-11-28T23:00:00+01:00",
            "2026-11-28T23:00:00Z",
        )
    return InvalidTag(
        tag,
        value,
        "has no time zone",
        "add its zone: Z for UTC, or the offset such as +01:00",
        local.isoformat() + "Z",
    )


def read_channel(tags: Mapping[str, str]) -> str | InvalidTag | None:
    """The service's own Slack channel ID, None without the tag, or why it cannot be used."""
    value = tags.get(CHANNEL_TAG)
    if value is None:
        return None
    if CHANNEL_ID.fullmatch(value):
        return value
    if CHANNEL_ID.fullmatch(value.strip()):
        return InvalidTag(CHANNEL_TAG, value, "has spaces around it", "remove the spaces", value.strip())
    return InvalidTag(
        CHANNEL_TAG,
        value,
        "is not a Slack channel ID",
        "set the channel's ID (in Slack, the channel's details show it, e.g. C0123456789), not its name",
        EXAMPLE[CHANNEL_TAG],
    )


def channel_of(tags: Mapping[str, str]) -> str | None:
    """The channel a service's messages also go to: its steward:channel tag when that is a channel ID."""
    channel = read_channel(tags)
    return channel if isinstance(channel, str) else None


def read_schedule(tags: Mapping[str, str], known: Collection[str]) -> str | InvalidTag | None:
    """The schedule the service names, None without the tag, or why it names none of the known schedules."""
    value = tags.get(SCHEDULE_TAG)
    if value is None or value in known:
        return value
    names = sorted(known)
    near = [name for name in names if name.lower() == value.strip().lower()]
    listed = ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
    add = f"add {value!r} to the schedules document"
    fix = f"name one of the schedules ({listed}) or {add}" if names else add
    return InvalidTag(SCHEDULE_TAG, value, "names no known schedule", fix, (near or names or [value])[0])


def invalid_tags(tags: Mapping[str, str], schedules: Collection[str] | None = None) -> tuple[InvalidTag, ...]:
    """Every steward:* tag value on a service that Steward cannot read; the schedule only when `schedules` is given."""
    readings = [
        read_switch(tags, PROTECTED_TAG),
        read_switch(tags, SPOT_FALLBACK_TAG),
        read_switch(tags, ROLLBACK_TAG),
        read_instant(tags, KEEP_AWAKE_TAG),
        read_channel(tags),
    ]
    if schedules is not None:
        readings.append(read_schedule(tags, schedules))
    return tuple(reading for reading in readings if isinstance(reading, InvalidTag))


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
