"""The one seam where a workflow's decisions become changes: dry run decided once, the once-only claim taken once,
the change made, what it needs remembered recorded once, and the claim released if the change did not happen.

Every workflow builds `Change` values from its domain decisions (plan) and hands them to `apply`; the `Applied`
results go to its pure message builders (report). A workflow never checks `dry_run` or writes a claim itself.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError
from msgspec import Struct

from steward.adapters.aws import is_transient
from steward.adapters.state import StateUnavailable

# Errors a change may end in that are reported, not raised: AWS refusing the call, or the state table failing.
REPORTED = (ClientError, BotoCoreError, StateUnavailable)


class Claim(Protocol):
    """A conditional write that makes one invocation the only one to act on an incident."""

    def take(self) -> bool:
        """True when this invocation now owns the incident; False when another one already does."""
        ...

    def release(self) -> None:
        """Undo `take`, so a retry of the same event may act."""
        ...


class Status(StrEnum):
    DONE = "done"
    DRY_RUN = "dry-run"  # would have changed, and did not
    UNCHANGED = "unchanged"  # the decision needs no change
    DUPLICATE = "duplicate"  # another invocation holds the claim
    REPORTED = "reported"  # a dry run already reported this would-be change
    FAILED = "failed"  # AWS refused for good (not transient); nothing changed for this decision


class Change[DecisionT](Struct, frozen=True):
    """What a decision asks for: the change itself, the claim that guards it, and what to record once it is made."""

    decision: DecisionT
    make: Callable[[], bool | None] | None = None  # None: nothing to change; see `apply` for a make returning False
    claim: Claim | None = None
    record: Callable[[], None] | None = None
    dry_run_claim: Claim | None = None  # in a dry run, what makes the would-be change reported once per episode


class Applied[DecisionT](Struct, frozen=True):
    decision: DecisionT
    status: Status
    cause: BaseException | None = None  # the error behind FAILED

    @property
    def error(self) -> str | None:
        return None if self.cause is None else str(self.cause)

    @property
    def changed(self) -> bool:
        return self.status in (Status.DONE, Status.DRY_RUN)


def apply[DecisionT](change: Change[DecisionT], *, dry_run: bool, raise_transient: bool = True) -> Applied[DecisionT]:
    """Make the change once. A transient error is raised (Lambda retries the event) unless `raise_transient` is off
    (off-hours: the next tick retries); a lasting one comes back as FAILED. Either way the claim is released.
    Without `raise_transient`, an error taking the claim comes back as FAILED too. A make that returns False found
    nothing left to change: UNCHANGED, and the claim stays taken."""
    if change.make is None:
        return Applied(change.decision, Status.UNCHANGED)
    if dry_run:
        return _rehearse(change, raise_transient=raise_transient)
    try:
        if change.claim is not None and not change.claim.take():
            return Applied(change.decision, Status.DUPLICATE)
    except REPORTED as error:
        if raise_transient:  # nothing was claimed: the error is raised as it always was
            raise
        return Applied(change.decision, Status.FAILED, cause=error)
    return _make(change, change.make, raise_transient=raise_transient)


def _rehearse[DecisionT](change: Change[DecisionT], *, raise_transient: bool) -> Applied[DecisionT]:
    """A dry run changes nothing; its own claim, where the change has one, makes it reported once."""
    try:
        if change.dry_run_claim is not None and not change.dry_run_claim.take():
            return Applied(change.decision, Status.REPORTED)
    except REPORTED as error:
        if raise_transient:
            raise
        return Applied(change.decision, Status.FAILED, cause=error)
    return Applied(change.decision, Status.DRY_RUN)


def _make[DecisionT](
    change: Change[DecisionT], make: Callable[[], bool | None], *, raise_transient: bool
) -> Applied[DecisionT]:
    """The change under its claim: released if the change did not happen, recorded once it did."""
    try:
        made = make()
    except REPORTED as error:
        _release(change.claim)
        if raise_transient and is_transient(error):
            raise
        return Applied(change.decision, Status.FAILED, cause=error)
    except BaseException:
        _release(change.claim)
        raise
    if made is False:
        # The make found nothing left to change (the world got there first): the incident is answered, claim kept.
        return Applied(change.decision, Status.UNCHANGED)
    if change.record is not None:
        change.record()
    return Applied(change.decision, Status.DONE)


def _release(claim: Claim | None) -> None:
    if claim is not None:
        claim.release()
