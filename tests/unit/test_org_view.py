"""The organisation view reads accounts side by side on a bounded pool, and one account's failure is that account's
answer, never the others'."""

from __future__ import annotations

import threading
import time
from typing import Any

from steward.adapters.org_view import Account, Target, read_each, targets


class FakeOrganisation:
    """Opens a member by handing its target back; counts how many are open at once."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.open_now = 0
        self.most_open = 0
        self._lock = threading.Lock()

    def open(self, target: Target) -> Target:
        with self._lock:
            self.open_now += 1
            self.most_open = max(self.most_open, self.open_now)
        try:
            time.sleep(0.02)
            if target.account.id in self.failing:
                raise PermissionError(f"role not assumable in {target.account.id}")
            return target
        finally:
            with self._lock:
                self.open_now -= 1


def accounts(count: int) -> list[Account]:
    return [Account(f"{index:012d}", f"team{index}") for index in range(1, count + 1)]


def test_no_more_accounts_are_read_at_once_than_the_pool_allows() -> None:
    org = FakeOrganisation(failing=set())

    readings = read_each(org, targets(accounts(12), ["eu-central-1"]), lambda m: m, str, workers=3)  # type: ignore[arg-type]

    assert len(readings) == 12 and all(r.error == "" for r in readings)
    assert 1 < org.most_open <= 3


def test_an_account_that_fails_is_reported_and_every_other_is_read_in_order() -> None:
    org = FakeOrganisation(failing={"000000000002", "000000000005"})
    wanted = targets(accounts(6), ["eu-central-1", "us-east-1"])

    readings: list[Any] = read_each(org, wanted, lambda m: m.account.name, lambda e: f"not read: {e}", workers=4)  # type: ignore[arg-type]

    assert [r.target for r in readings] == wanted
    failed = {(r.target.account.id, r.target.region): r.error for r in readings if r.error}
    assert failed == {
        (account, region): f"not read: role not assumable in {account}"
        for account in ("000000000002", "000000000005")
        for region in ("eu-central-1", "us-east-1")
    }
    assert [r.value for r in readings if not r.error] == [
        name for name in ("team1", "team3", "team4", "team6") for _ in ("eu-central-1", "us-east-1")
    ]
