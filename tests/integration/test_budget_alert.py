"""Budget notifications through the real handler under moto (Cost Explorer results injected into moto's queue)."""

from __future__ import annotations

import copy
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from devtools.platform import (
    create_aurora_cluster,
    create_database,
    database_states,
    seed_reference_platform,
    service_sizes,
)
from devtools.slack_standin import SlackStandIn
from moto.ce.models import ce_backends
from moto.core import DEFAULT_ACCOUNT_ID

from steward.adapters.costs import CostExplorer
from steward.adapters.ecs import Ecs
from steward.adapters.rds import Rds
from steward.handlers import budget_alert, off_hours
from tests.conftest import STATE_TABLE, emitted_metrics, load_event

MONTHLY_80 = "budget_alert/BudgetNotification--monthly-actual-80.json"
DAILY = "budget_alert/BudgetNotification--daily-actual.json"
DAILY_100 = "budget_alert/BudgetNotification--daily-actual-100.json"
AUTO_ADJUSTMENT = "budget_alert/BudgetNotification--auto-adjustment-json.json"
MONTHLY_100 = "budget_alert/BudgetNotification--monthly-actual-100.json"
FORECAST_ANOMALY = "budget_alert/BudgetNotification--forecasted-100-anomaly.json"


def with_message_id(path: str, message_id: str, timestamp: str | None = None) -> dict[str, Any]:
    """A redelivery of a sample: only its SNS message id (and, for a later delivery, its time) changed."""
    event = copy.deepcopy(load_event(path))
    event["Records"][0]["Sns"]["MessageId"] = message_id
    if timestamp is not None:
        event["Records"][0]["Sns"]["Timestamp"] = timestamp
    return event


def with_message(path: str, message: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event(path))
    event["Records"][0]["Sns"]["Message"] = message
    return event


def throttled(operation: str) -> ClientError:
    """What boto3 raises once its own retries of a throttled call have run out."""
    return ClientError(
        {
            "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        operation,
    )


@pytest.fixture
def cost_requests(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The TimePeriod of every GetCostAndUsage request the handler makes."""
    from botocore.client import BaseClient

    periods: list[dict[str, Any]] = []
    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        if operation_name == "GetCostAndUsage":
            periods.append(api_params["TimePeriod"])
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return periods


def queue_cost_drivers(*rows: tuple[str, str]) -> None:
    groups = [
        {"Keys": [f"service${name}"], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}
        for name, amount in rows
    ]
    ce_backends[DEFAULT_ACCOUNT_ID]["global"].cost_usage_results_queue.append(
        {
            "ResultsByTime": [
                {"TimePeriod": {"Start": "2026-11-01", "End": "2026-12-01"}, "Groups": groups, "Estimated": True}
            ]
        }
    )


@pytest.fixture
def budgets(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDGET_ACTIONS", '{"dev-monthly": {"action": "stop", "selector": {"env": "dev"}}}')
    seed_reference_platform(boto3.session.Session())


def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = budget_alert.lambda_handler(event, context)["records"][0]
    return result


def test_an_80_percent_alert_names_the_threshold_and_the_top_cost_drivers(
    budgets: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    queue_cost_drivers(("llm-orchestrator", "181.20"), ("", "40.05"), ("api-gateway", "96.10"))

    result = run(load_event(MONTHLY_80), lambda_context)

    assert result["outcome"] == "alerted"
    assert result["stopped"] == []
    [message] = slack.messages
    assert message.text == "Budget dev-monthly: 80.0 % threshold (ACTUAL): actual 412.37 USD of 500.00 USD"
    drivers = message.blocks[2]["text"]["text"]
    assert (
        drivers.index("llm-orchestrator: 181.20 USD")
        < drivers.index("api-gateway: 96.10 USD")
        < drivers.index("_untagged_: 40.05 USD")
    )
    assert "no action configured" not in message.blocks[3]["text"]["text"]  # dev-monthly has one; 80 % is below it
    assert "below 100 %" in message.blocks[3]["text"]["text"]


def test_the_cost_drivers_request_excludes_credits_and_refunds(
    budgets: None, lambda_context: Any, aws_calls: list[str]
) -> None:
    from steward.runtime import shared_aws

    run(load_event(MONTHLY_80), lambda_context)

    assert shared_aws().calls["ce.GetCostAndUsage"] == 1
    body = next(iter(ce_backends[DEFAULT_ACCOUNT_ID]["global"].cost_usage_results.keys()), None)
    assert body is None or "RECORD_TYPE" in body


def test_100_percent_actual_stops_the_selected_services_and_the_next_period_brings_them_back(
    budgets: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    before = service_sizes(boto3.session.Session())
    arn = boto3.client("ecs").describe_services(cluster="pyairtable-dev", services=["frontend"])["services"][0][
        "serviceArn"
    ]
    boto3.client("ecs").tag_resource(resourceArn=arn, tags=[{"key": "steward:protected", "value": "true"}])

    result = run(load_event(MONTHLY_100), lambda_context)

    assert len(result["stopped"]) == 7
    after = service_sizes(boto3.session.Session())
    assert after["frontend"] == before["frontend"]  # protected
    assert after["api-gateway"]["desired"] == 0
    assert after["api-gateway"]["target"][0] == 0  # its auto scaling is held at 0 too
    assert "stopped 7 service(s)" in slack.messages[-1].blocks[3]["text"]["text"]
    # Sunday evening: still November, still office hours off → held. Monday 1 December: a new period → back.
    off_hours.lambda_handler(
        {"source": "steward.scheduler", "task": "off-hours-tick", "now": "2026-11-29T20:00:00Z"}, lambda_context
    )
    assert service_sizes(boto3.session.Session())["api-gateway"]["desired"] == 0
    off_hours.lambda_handler(
        {"source": "steward.scheduler", "task": "off-hours-tick", "now": "2026-12-01T06:00:00Z"}, lambda_context
    )
    assert service_sizes(boto3.session.Session()) == before


def test_a_budget_stop_during_working_hours_is_not_undone_by_the_next_off_hours_tick(
    budgets: None, lambda_context: Any
) -> None:
    run(load_event(MONTHLY_100), lambda_context)  # Friday 21:05 UTC
    off_hours.lambda_handler(
        {"source": "steward.scheduler", "task": "off-hours-tick", "now": "2026-11-27T21:10:00Z"}, lambda_context
    )

    assert service_sizes(boto3.session.Session())["llm-orchestrator"]["desired"] == 0


def test_a_forecasted_implausible_amount_alerts_as_an_anomaly_and_never_acts(
    budgets: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    before = service_sizes(boto3.session.Session())

    result = run(load_event(FORECAST_ANOMALY), lambda_context)

    assert result["stopped"] == []
    assert "anomaly" in result["action"]
    assert "suspected billing-estimate anomaly" in slack.messages[0].text
    assert service_sizes(boto3.session.Session()) == before


def test_80_then_100_the_same_day_alerts_twice_and_100_then_80_once(
    budgets: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    assert run(load_event(MONTHLY_80), lambda_context)["outcome"] == "alerted"
    assert run(load_event(MONTHLY_100), lambda_context)["outcome"] == "alerted"
    assert len(slack.messages) == 2


def test_100_before_80_escalates_once(budgets: None, lambda_context: Any, slack: SlackStandIn) -> None:
    assert run(load_event(MONTHLY_100), lambda_context)["outcome"] == "alerted"
    late = run(load_event(MONTHLY_80), lambda_context)

    assert late["outcome"] == "duplicate"
    assert "or higher this period" in late["reason"]
    assert len(slack.messages) == 1


def test_duplicate_delivery_with_the_same_and_with_a_new_message_id_alerts_once(
    budgets: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    first = run(load_event(MONTHLY_80), lambda_context)
    same = run(load_event(MONTHLY_80), lambda_context)
    new_id = run(with_message_id(MONTHLY_80, "11111111-2222-3333-4444-555555555555"), lambda_context)

    assert [first["outcome"], same["outcome"], new_id["outcome"]] == ["alerted", "duplicate", "duplicate"]
    assert "already handled" in same["reason"]
    assert len(slack.messages) == 1


def test_an_unknown_budget_is_alert_only(aws: None, lambda_context: Any, slack: SlackStandIn) -> None:
    result = run(load_event(DAILY), lambda_context)

    assert result["outcome"] == "alerted"
    assert result["action"] == "no action configured for this budget (alert only)"
    assert slack.messages[0].text.startswith("Budget dev-daily: 80.0 % threshold")


def test_the_auto_adjustment_json_message_is_ignored_quietly(
    aws: None, lambda_context: Any, slack: SlackStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(load_event(AUTO_ADJUSTMENT), lambda_context)

    assert result["outcome"] == "ignored"
    assert "auto-adjustment" in result["reason"]
    assert slack.messages == []
    assert "UnreadableBudgetMessages" not in emitted_metrics(capsys.readouterr().out)


@pytest.mark.parametrize("message", ['{"foo": "bar"}', '{"previousBudgetLimit": "1"}', "Budget Name: x"])
def test_a_budget_message_steward_cannot_read_is_a_counted_warning_not_silence(
    aws: None,
    lambda_context: Any,
    slack: SlackStandIn,
    message: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = run(with_message(AUTO_ADJUSTMENT, message), lambda_context)

    assert result["outcome"] == "rejected"
    assert emitted_metrics(capsys.readouterr().out).get("UnreadableBudgetMessages") == 1
    assert any(record.levelname == "WARNING" for record in caplog.records)
    assert slack.messages == []


def test_a_daily_breach_is_about_yesterday_and_the_next_days_breach_alerts_again(
    aws: None,
    lambda_context: Any,
    slack: SlackStandIn,
    cost_requests: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BUDGET_ACTIONS", '{"dev-daily": {"action": "stop", "selector": {"env": "dev"}}}')
    seed_reference_platform(boto3.session.Session())
    # AWS reports 26 November's spend early on the 27th; its daily budget resets every midnight UTC.
    first = run(load_event(DAILY_100), lambda_context)

    assert first["outcome"] == "alerted"
    assert len(first["stopped"]) == 8
    assert cost_requests == [{"Start": "2026-11-26", "End": "2026-11-27"}]
    assert "dev-daily (2026-11-26)" in slack.messages[0].blocks[1]["fields"][0]["text"]
    # The stop holds until the budget next resets after the alert (midnight UTC), not to the month's end.
    record = boto3.client("dynamodb").get_item(
        TableName=STATE_TABLE, Key={"pk": {"S": "service#pyairtable-dev/api-gateway"}, "sk": {"S": "off-hours"}}
    )["Item"]
    assert record["hold_until"]["S"] == "2026-11-28T00:00:00+00:00"

    next_day = run(
        with_message_id(DAILY_100, "11111111-2222-3333-4444-555555555555", "2026-11-28T01:01:38.638Z"), lambda_context
    )

    assert next_day["outcome"] == "alerted"
    assert cost_requests[-1] == {"Start": "2026-11-27", "End": "2026-11-28"}
    assert len(slack.messages) == 2


def test_a_notification_whose_period_cannot_be_read_alerts_counts_and_never_acts(
    budgets: None,
    lambda_context: Any,
    slack: SlackStandIn,
    aws_calls: list[str],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = service_sizes(boto3.session.Session())
    text = load_event(MONTHLY_100)["Records"][0]["Sns"]["Message"].replace(" for the current month.", ".")

    result = run(with_message(MONTHLY_100, text), lambda_context)

    assert result["outcome"] == "alerted"
    assert result["stopped"] == []
    assert "budget period could not be read" in result["action"]
    assert service_sizes(boto3.session.Session()) == before
    assert "ce.GetCostAndUsage" not in aws_calls  # no period, no drivers to show for it
    assert "period could not be read" in slack.messages[0].blocks[3]["text"]["text"]
    assert emitted_metrics(capsys.readouterr().out).get("BudgetPeriodUnknown") == 1
    assert any(r.levelname == "WARNING" and r.getMessage() == "budget period unknown" for r in caplog.records)


def test_cost_explorer_throttled_beyond_retries_raises_and_the_retry_alerts_and_stops_once(
    budgets: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = CostExplorer.spend_by_tag
    calls = {"n": 0}

    def throttled_once(self: CostExplorer, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise throttled("GetCostAndUsage")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CostExplorer, "spend_by_tag", throttled_once)

    with pytest.raises(ClientError):
        budget_alert.lambda_handler(load_event(MONTHLY_100), lambda_context)  # Lambda retries the event
    retry = run(load_event(MONTHLY_100), lambda_context)

    assert retry["outcome"] == "alerted"
    assert len(retry["stopped"]) == 8
    assert service_sizes(boto3.session.Session())["api-gateway"]["desired"] == 0
    assert len(slack.messages) == 1


def test_ecs_throttled_during_the_stop_raises_and_the_retry_alerts_and_stops_once(
    budgets: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Ecs.services_in
    calls = {"n": 0}

    def throttled_once(self: Ecs, *args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise throttled("DescribeServices")
        return original(self, *args)

    monkeypatch.setattr(Ecs, "services_in", throttled_once)

    with pytest.raises(ClientError):
        budget_alert.lambda_handler(load_event(MONTHLY_100), lambda_context)
    retry = run(load_event(MONTHLY_100), lambda_context)

    assert retry["outcome"] == "alerted"
    assert len(retry["stopped"]) == 8
    assert len(slack.messages) == 1


def test_one_failing_record_does_not_lose_the_other_records_alert(
    aws: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = load_event(MONTHLY_80)
    event["Records"].append(load_event(DAILY)["Records"][0])
    original = CostExplorer.spend_by_tag
    calls = {"n": 0}

    def first_throttled(self: CostExplorer, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise throttled("GetCostAndUsage")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CostExplorer, "spend_by_tag", first_throttled)

    with pytest.raises(ClientError):
        budget_alert.lambda_handler(event, lambda_context)
    assert [m.text.split(":")[0] for m in slack.messages] == ["Budget dev-daily"]
    retry = budget_alert.lambda_handler(event, lambda_context)

    assert [r["outcome"] for r in retry["records"]] == ["alerted", "duplicate"]
    assert sorted(m.text.split(":")[0] for m in slack.messages) == ["Budget dev-daily", "Budget dev-monthly"]


def test_cost_explorer_denied_still_alerts_and_says_the_drivers_are_unavailable(
    budgets: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    from steward.adapters.costs import CostExplorer

    def denied(self: CostExplorer, *args: Any, **kwargs: Any) -> Any:
        from steward.adapters.costs import CostsUnavailable

        raise CostsUnavailable("AccessDeniedException: not authorized to perform ce:GetCostAndUsage")

    monkeypatch.setattr(CostExplorer, "spend_by_tag", denied)
    assert ClientError  # the adapter turns a ClientError into CostsUnavailable (covered by the digest tests)

    run(load_event(MONTHLY_80), lambda_context)

    assert "Top cost drivers unavailable: AccessDeniedException" in slack.messages[0].blocks[2]["text"]["text"]


def test_dry_run_alerts_and_stops_nothing(
    budgets: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRY_RUN", "true")
    before = service_sizes(boto3.session.Session())

    result = run(load_event(MONTHLY_100), lambda_context)

    assert all(name.endswith("(dry run)") for name in result["stopped"])
    assert service_sizes(boto3.session.Session()) == before
    assert slack.messages[0].text.startswith("[dry run] Budget dev-monthly")


def test_a_released_escalation_keeps_the_threshold_alerted_before_it(
    budgets: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(load_event(MONTHLY_80), lambda_context)["outcome"] == "alerted"
    original = CostExplorer.spend_by_tag
    calls = {"n": 0}

    def next_throttled(self: CostExplorer, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise throttled("GetCostAndUsage")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CostExplorer, "spend_by_tag", next_throttled)
    with pytest.raises(ClientError):
        budget_alert.lambda_handler(load_event(MONTHLY_100), lambda_context)

    late_80 = run(with_message_id(MONTHLY_80, "11111111-2222-3333-4444-555555555555"), lambda_context)
    retry_100 = run(load_event(MONTHLY_100), lambda_context)

    assert late_80["outcome"] == "duplicate"
    assert retry_100["outcome"] == "alerted"
    assert len(slack.messages) == 2


def test_a_connection_error_claiming_the_escalation_raises_and_the_retry_alerts(
    budgets: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import EndpointConnectionError

    from steward.adapters.state import StateStore

    original = StateStore.update
    calls = {"n": 0}

    def unreachable_once(self: StateStore, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise EndpointConnectionError(endpoint_url="https://dynamodb.eu-central-1.amazonaws.com/")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StateStore, "update", unreachable_once)

    with pytest.raises(EndpointConnectionError):
        budget_alert.lambda_handler(load_event(MONTHLY_80), lambda_context)  # Lambda retries the event
    retry = run(load_event(MONTHLY_80), lambda_context)

    assert retry["outcome"] == "alerted"
    assert len(slack.messages) == 1


# ------------------------------------------------------------------------------------------ databases


def rds_states() -> dict[str, str]:
    return database_states(boto3.session.Session())


def database_hold(key: str) -> dict[str, Any]:
    item: dict[str, Any] = boto3.client("dynamodb").get_item(
        TableName=STATE_TABLE, Key={"pk": {"S": f"database#{key}"}, "sk": {"S": "off-hours"}}
    )["Item"]
    return item


def tick(now: str, context: Any) -> dict[str, Any]:
    result: dict[str, Any] = off_hours.lambda_handler(
        {"source": "steward.scheduler", "task": "off-hours-tick", "now": now}, context
    )
    return result


@pytest.fixture
def dev_databases(budgets: None) -> None:
    """The dev databases the dev-monthly selector (env=dev) matches: two it can stop, three it must spare."""
    rds = boto3.client("rds")
    create_database(rds, "orders-db", tags={"env": "dev"})
    create_aurora_cluster(rds, "analytics", writer="analytics-1", tags={"env": "dev"})
    create_database(rds, "ledger-db", tags={"env": "dev", "steward:protected": "true"})
    create_database(rds, "reports-db", tags={"env": "dev"})
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier="reports-replica",
        SourceDBInstanceIdentifier="reports-db",
        Tags=[{"Key": "steward:environment", "Value": "dev"}, {"Key": "env", "Value": "dev"}],
    )
    create_database(rds, "billing-db", tags={"env": "prod"})  # not selected


def test_100_percent_actual_stops_the_selected_databases_until_the_period_resets(
    dev_databases: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    # Given the dev databases, a protected one and a read replica with its source among them
    # When the budget reaches 100 % (Friday 27 November, 21:05 UTC)
    result = run(load_event(MONTHLY_100), lambda_context)

    # Then the two it can stop are stopped and held until the period resets, the others left running
    assert result["stopped_databases"] == ["instance/orders-db", "cluster/analytics"]
    states = rds_states()
    assert states["instance/orders-db"] == "stopped"
    assert states["cluster/analytics"] == "stopped"
    for running in ("ledger-db", "reports-db", "reports-replica", "billing-db"):
        assert states[f"instance/{running}"] == "available"
    hold = database_hold("instance/orders-db")
    assert hold["stopped_by"]["S"] == "budget:dev-monthly"
    assert hold["hold_until"]["S"] == "2026-12-01T00:00:00+00:00"
    assert database_hold("cluster/analytics")["classes"]["L"] == [{"S": "db.r6g.large"}]
    # and the alert lists the databases stopped, when they start, and the spared ones with AWS's reasons
    text = "\n".join(block["text"]["text"] for block in slack.messages[-1].blocks if "text" in block)
    assert "Also stopped 2 database(s)" in text
    assert "instance/orders-db" in text and "cluster/analytics" in text
    assert "They start at 2026-12-01T00:00Z, when the budget period resets" in text
    assert (
        "aws rds add-tags-to-resource --resource-name arn:aws:rds:eu-central-1:123456789012:db:orders-db"
        " --tags Key=steward:keep-awake-until,Value=2026-12-01T00:00Z" in text
    )
    assert "*Spared databases* (3)" in text
    assert "• steward:protected (1): `instance/ledger-db`" in text
    assert "read replica of reports-db: AWS cannot stop a read replica (1): `instance/reports-replica`" in text
    assert "source of read replica reports-replica" in text and "`instance/reports-db`" in text
    assert "billing-db" not in text

    # When off-hours ticks over the weekend, then on the 1st of December (a new budget period)
    tick("2026-11-29T20:00:00Z", lambda_context)
    assert rds_states()["instance/orders-db"] == "stopped"
    morning = tick("2026-12-01T00:05:00Z", lambda_context)

    # Then the databases the budget stopped start again
    assert {line["database"] for line in morning["databases"]["started"]} == {"instance/orders-db", "cluster/analytics"}
    assert rds_states()["instance/orders-db"] == "available"
    assert rds_states()["cluster/analytics"] == "available"


def test_a_database_aws_never_stopped_is_not_counted_as_saved_when_its_hold_ends(
    dev_databases: None, lambda_context: Any
) -> None:
    # Given a budget stop AWS refuses for orders-db (its hold is written before the stop, as "stopping")
    refused = ClientError(
        {"Error": {"Code": "InvalidDBInstanceState", "Message": "not in available state"}, "ResponseMetadata": {}},
        "StopDBInstance",
    )
    real_stop = Rds.stop

    def stop(self: Rds, db: Any) -> None:
        if db.key == "instance/orders-db":
            raise refused
        real_stop(self, db)

    with mock.patch.object(Rds, "stop", stop):
        result = run(load_event(MONTHLY_100), lambda_context)
        assert result["stopped_databases"] == ["cluster/analytics"]

        # When off-hours ticks on until the budget period resets, the stop still refused
        tick("2026-11-29T20:00:00Z", lambda_context)
        tick("2026-12-01T00:05:00Z", lambda_context)

    # Then its hold is gone, and the savings log has the database that was stopped, never the one that was not
    saved = boto3.client("dynamodb").query(
        TableName=STATE_TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "database-savings"}},
    )["Items"]
    assert [item["database"]["S"] for item in saved] == ["cluster/analytics"]
    assert rds_states()["instance/orders-db"] == "available"


def test_a_budget_held_database_on_a_schedule_starts_at_its_next_scheduled_start(
    budgets: None, lambda_context: Any
) -> None:
    # Given the platform's databases on office-hours, also tagged env=dev
    rds = boto3.client("rds")
    create_database(rds, "orders-db", tags={"env": "dev", "steward:schedule": "office-hours"})
    run(load_event(MONTHLY_100), lambda_context)  # Friday 21:05 UTC: stopped by the budget
    assert rds_states()["instance/orders-db"] == "stopped"

    # When off-hours ticks through the weekend, then 15 minutes before Monday's office hours
    for weekend in ("2026-11-27T21:10:00Z", "2026-11-28T12:00:00Z", "2026-11-30T05:40:00Z"):
        tick(weekend, lambda_context)
        assert rds_states()["instance/orders-db"] == "stopped"
    early = tick("2026-11-30T05:45:00Z", lambda_context)

    # Then it starts ahead of its services, before the budget period resets
    assert [line["database"] for line in early["databases"]["started"]] == ["instance/orders-db"]
    assert rds_states()["instance/orders-db"] == "available"


def test_a_selector_matching_only_databases_aws_cannot_stop_says_why_nothing_stopped(
    aws: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUDGET_ACTIONS", '{"dev-monthly": {"action": "stop", "selector": {"team": "data"}}}')
    rds = boto3.client("rds")
    create_aurora_cluster(rds, "events", tags={"team": "data"}, EngineMode="serverless")

    result = run(load_event(MONTHLY_100), lambda_context)

    assert result["stopped_databases"] == []
    assert rds_states()["cluster/events"] == "available"
    assert "matches 1 database(s), none of them to stop" in result["action"]
    assert "Aurora Serverless v1: AWS cannot stop it" in result["action"]


def test_dry_run_names_the_databases_it_would_stop_and_stops_none(
    dev_databases: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRY_RUN", "true")

    result = run(load_event(MONTHLY_100), lambda_context)

    assert result["stopped_databases"] == ["instance/orders-db (dry run)", "cluster/analytics (dry run)"]
    assert rds_states()["instance/orders-db"] == "available"
    assert rds_states()["cluster/analytics"] == "available"
    assert "orders-db (dry run)" in "\n".join(b["text"]["text"] for b in slack.messages[0].blocks if "text" in b)
