"""What a budget stop action's selector finds: the services it stops, the ones it spares and why, and the sentence
an alert shows when there is nothing to stop."""

from __future__ import annotations

from datetime import UTC, datetime

from steward.domain.budgets import select_for_stop
from steward.domain.services import OffHoursRecord, RestoreRecord, ServiceView

NOW = datetime(2026, 11, 27, 21, 5, tzinfo=UTC)


def service(name: str, desired: int = 2, **tags: str) -> ServiceView:
    return ServiceView(
        cluster="pyairtable-dev", name=name, arn=f"arn:{name}", desired_count=desired, tags={"env": "dev", **tags}
    )


def test_a_service_must_carry_every_selector_tag_with_exactly_that_value() -> None:
    services = [service("api", team="data"), service("web", team="web"), service("jobs", team="Data")]

    selection = select_for_stop(services, {}, {"env": "dev", "team": "data"}, NOW)

    assert [view.name for view in selection.candidates] == ["api"]
    assert selection.matched == 1


def test_matched_services_that_are_not_stopped_are_spared_with_the_reason() -> None:
    held = {
        "pyairtable-dev/held": OffHoursRecord(
            "schedule@x",
            RestoreRecord(desired_count=2, target=None, stopped_at=NOW, stopped_by="schedule", edge_id="x"),
        )
    }
    services = [
        service("guarded", **{"steward:protected": "true"}),
        service("awake", **{"steward:keep-awake-until": "2026-11-28T23:00:00Z"}),
        service("idle", desired=0),
        service("held"),
    ]

    selection = select_for_stop(services, held, {"env": "dev"}, NOW)

    assert selection.candidates == []
    assert selection.spared == {
        "pyairtable-dev/guarded": "steward:protected",
        "pyairtable-dev/awake": "kept awake by steward:keep-awake-until",
        "pyairtable-dev/idle": "already at 0 tasks",
        "pyairtable-dev/held": "already held at zero by Steward",
    }
    assert selection.nothing_to_stop().startswith("the selector env=dev matches 4 service(s), none of them to stop")


def test_a_selector_no_service_carries_says_so_and_names_it() -> None:
    selection = select_for_stop([service("api")], {}, {"env": "development"}, NOW)

    assert selection.matched == 0
    assert "the selector env=development matches no service" in selection.nothing_to_stop()
