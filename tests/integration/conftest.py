"""Every AWS call Steward makes in these tests is one its function's role in template.yaml allows: the action, the
resource ARN built from the request, and tag conditions against the resource's tags in moto."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from devtools.iam_check import CallChecker, checking_calls


@pytest.fixture(scope="module", autouse=True)
def calls_checked_against_the_template() -> Iterator[CallChecker]:
    # Module scope, so module-wide fixtures (the demo's day) are checked too; a denied call fails where it is made.
    with checking_calls(CallChecker(os.environ)) as checker:
        yield checker


@pytest.fixture(autouse=True)
def no_call_was_denied(calls_checked_against_the_template: CallChecker) -> Iterator[None]:
    """Also fails a test whose code caught the failure raised at the denied call."""
    checker = calls_checked_against_the_template
    checker.violations.clear()
    yield
    assert not checker.violations, "\n".join(checker.violations)
