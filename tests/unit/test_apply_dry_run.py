"""The apply seam in a dry run: nothing is made, and a would-be change with a dry-run claim is reported once."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from steward.apply import Change, Status, apply


class Marker:
    """A report marker: taken once, refused afterwards; or failing like a throttled state table."""

    def __init__(self, *, error: Exception | None = None) -> None:
        self.taken = False
        self.error = error

    def take(self) -> bool:
        if self.error is not None:
            raise self.error
        first, self.taken = not self.taken, True
        return first

    def release(self) -> None:
        self.taken = False


def must_not_run() -> None:
    raise AssertionError("a dry run made the change")


THROTTLED = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "UpdateItem")


def test_a_dry_run_reports_a_would_be_change_once_and_makes_nothing() -> None:
    change = Change("stop frontend", make=must_not_run, claim=Marker(), dry_run_claim=Marker())

    statuses = [apply(change, dry_run=True).status for _ in range(3)]

    assert statuses == [Status.DRY_RUN, Status.REPORTED, Status.REPORTED]
    assert not apply(change, dry_run=True).changed


def test_a_dry_run_without_a_dry_run_claim_reports_every_time() -> None:
    change = Change("stop frontend", make=must_not_run, claim=Marker())

    assert [apply(change, dry_run=True).status for _ in range(2)] == [Status.DRY_RUN, Status.DRY_RUN]


def test_a_live_run_ignores_the_dry_run_claim() -> None:
    made: list[str] = []
    reported = Marker()
    reported.taken = True  # a dry run reported this change before going live
    change = Change("stop frontend", make=lambda: made.append("stopped"), dry_run_claim=reported)

    assert apply(change, dry_run=False).status is Status.DONE
    assert made == ["stopped"]


def test_a_dry_run_claim_that_fails_is_raised_or_reported_as_the_live_claim_is() -> None:
    change = Change("stop frontend", make=must_not_run, dry_run_claim=Marker(error=THROTTLED))

    with pytest.raises(ClientError):
        apply(change, dry_run=True)
    assert apply(change, dry_run=True, raise_transient=False).status is Status.FAILED
