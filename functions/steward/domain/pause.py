"""Steward's pause switch: one SSM parameter an operator sets without a redeploy. While paused, nothing Steward would
change is changed (no stop or start, no Spot shift, no rollback, no budget stop); alerts and the digest go on.

The value uses the tags' on/off vocabulary, or an ISO-8601 instant with its zone to pause until then. A value that
cannot be read pauses: the side that changes nothing it would have prevented."""

from datetime import datetime

from msgspec import Struct

from steward.domain.services import SWITCH_SPELLINGS, SWITCH_WORDS, parse_instant


class Paused(Struct, frozen=True):
    until: datetime | None  # None: until the switch is turned off
    problem: str = ""  # set when the value could not be read (and so pauses)

    @property
    def why(self) -> str:
        if self.problem:
            return f"paused: the pause switch is unreadable ({self.problem})"
        return f"paused until {self.until.isoformat()}" if self.until else "paused until the switch is turned off"


def read_pause(value: str | None, now: datetime) -> Paused | None:
    """None when Steward runs as usual: no switch, an off word, or a pause that has ended."""
    if value is None:
        return None
    text = value.strip()
    switch = SWITCH_WORDS.get(text.lower())
    if switch is not None:
        return Paused(until=None) if switch else None
    until = parse_instant(text)
    if until is None:
        return Paused(
            until=None, problem=f"{value!r} is neither {SWITCH_SPELLINGS} nor an ISO-8601 instant with a zone"
        )
    return Paused(until=until) if until > now else None
