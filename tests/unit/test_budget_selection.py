"""What a budget stop action's selector finds: the services it stops, the ones it spares and why, and the sentence
an alert shows when there is nothing to stop."""

from __future__ import annotations

from datetime import UTC, datetime

from steward.domain.budgets import select_for_stop, with_databases
from steward.domain.databases import DatabaseHold, DatabaseRecord, DatabaseView
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


def database(identifier: str, *, status: str = "available", refusal: str | None = None, **tags: str) -> DatabaseView:
    return DatabaseView(
        kind="instance",
        identifier=identifier,
        arn=f"arn:aws:rds:eu-central-1:123456789012:db:{identifier}",
        engine="postgres",
        status=status,
        tags={"env": "dev", **tags},
        classes=("db.t4g.medium",),
        refusal=refusal,
    )


def test_selected_databases_are_stopped_unless_protected_awake_unstoppable_held_or_not_available() -> None:
    held = {"instance/held": DatabaseRecord("x", DatabaseHold(stopped_at=NOW, stopped_by="schedule", edge_id="x"))}
    databases = [
        database("orders"),
        database("guarded", **{"steward:protected": "true"}),
        database("awake", **{"steward:keep-awake-until": "2026-11-28T23:00:00Z"}),
        database("replica", refusal="read replica of orders: AWS cannot stop a read replica"),
        database("held", status="stopped"),
        database("idle", status="stopped"),
        database("busy", status="modifying"),
        database("other", env="prod"),
    ]

    selection = with_databases(select_for_stop([], {}, {"env": "dev"}, NOW), databases, held, NOW)

    assert [db.key for db in selection.databases] == ["instance/orders"]
    assert selection.spared_databases == {
        "instance/guarded": "steward:protected",
        "instance/awake": "kept awake by steward:keep-awake-until",
        "instance/replica": "read replica of orders: AWS cannot stop a read replica",
        "instance/held": "already held stopped by Steward",
        "instance/idle": "already stopped",
        "instance/busy": "modifying: AWS stops only an available database",
    }
    assert selection.has_work


def test_a_selector_matching_only_spared_databases_says_so() -> None:
    databases = [database("replica", refusal="read replica of orders: AWS cannot stop a read replica")]

    selection = with_databases(
        select_for_stop([service("api", desired=0)], {}, {"env": "dev"}, NOW), databases, {}, NOW
    )

    assert not selection.has_work
    assert selection.nothing_to_stop().startswith(
        "the selector env=dev matches 1 service(s) and 1 database(s), none of them to stop (already at 0 tasks; "
        "read replica of orders: AWS cannot stop a read replica)"
    )
