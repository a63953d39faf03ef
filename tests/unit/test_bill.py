"""Steward's own bill (bench/bill.py): the arithmetic from measured requests and dated prices to USD a month."""

from __future__ import annotations

import copy
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bench import bill
from bench.bill import Assumptions, Bill, Line, Measured, Run
from devtools.template import TEMPLATE, template

NOTHING = Run({}, 0.0)
HEALTH = Path("templates/function-health.yaml")
INSTANT = Assumptions(request_latency_ms=Decimal(0), cold_start_seconds=Decimal(0))


def measured(services: int = 100, **runs: Run) -> Measured:
    every = dict.fromkeys(
        (
            "quiet_tick",
            "transition_tick",
            "shift_back_tick",
            "spot_signal",
            "spot_duplicate",
            "deployment_event",
            "alarm",
            "budget_alert",
            "digest",
        ),
        NOTHING,
    )
    return Measured(services, **(every | runs))


def line(result: Bill, item: str) -> Line:
    return next(x for x in result.lines if x.item == item)


def test_a_digest_of_two_cost_explorer_requests_a_day_costs_about_sixty_cents_a_month() -> None:
    # Given a digest that sends one GetCostAndUsage page and one forecast, and a budget alert with one request
    runs = {
        "digest": Run({"ce.GetCostAndUsage": 1, "ce.GetCostForecast": 1}, 0.0),
        "budget_alert": Run({"ce.GetCostAndUsage": 1}, 0.0),
    }
    # When the month is billed
    result = bill.bill(measured(**runs), bill.stack(), set(), INSTANT)
    # Then 730/24 digests × 2 + 2 alerts × 1 requests at 0.01 USD each
    assert line(result, "Cost Explorer requests").usd == Decimal("0.01") * (Decimal(730) / 24 * 2 + 2)
    assert round(line(result, "Cost Explorer requests").usd, 2) == Decimal("0.63")


def test_a_free_tier_is_taken_off_once_per_account_not_once_per_line() -> None:
    # Given two lines on the same price, 800,000 Lambda requests each (the free tier is 1,000,000)
    result = Bill(
        100,
        [
            Line("a", "lambda-requests", Decimal(800_000), "", fixed=False),
            Line("b", "lambda-requests", Decimal(800_000), "", fixed=False),
        ],
    )
    # Then the list price is 1.6M × 0.20/M and the free tier takes off 1M once, not 0.8M twice
    assert result.total == Decimal("0.32")
    assert result.free_tier == Decimal("0.20")
    assert result.total_with_free_tier == Decimal("0.12")


def test_a_free_tier_never_takes_off_more_than_was_used() -> None:
    result = Bill(10, [Line("alarms", "alarms", Decimal(4), "", fixed=True)])
    assert result.free_tier == result.total == Decimal("0.40")
    assert result.total_with_free_tier == 0


def test_lambda_is_billed_in_gb_seconds_of_each_functions_memory() -> None:
    # Given a quiet off-hours tick of one second and nothing else (256 MB function)
    result = bill.bill(measured(quiet_tick=Run({}, 1.0)), bill.stack(), set(), INSTANT)
    ticks = Decimal(730) * 60 / 10
    transitions = Decimal(730) / 24 * 5 / 7 * 2
    # Then each quiet tick is 0.25 GB-s, priced per GB-s on Arm
    gb_seconds = line(result, "Lambda GB-seconds")
    assert round(gb_seconds.quantity, 9) == round((ticks - transitions) * Decimal("0.25"), 9)
    assert gb_seconds.usd == gb_seconds.quantity * Decimal("0.0000133334")


def test_a_transition_lasts_at_least_as_long_as_its_writes_are_paced() -> None:
    # Given a stop of 100 services (100 UpdateService) measured in half a second against moto
    run = Run({"ecs.UpdateService": 100, "dynamodb.PutItem": 100}, 0.5)
    # Then at 10 writes a second it is billed 10 s, not 0.5 s plus latency
    assert bill.duration(run, INSTANT) == Decimal(10)
    assert bill.duration(Run({"ecs.DescribeServices": 10}, 0.5), Assumptions(cold_start_seconds=Decimal(0))) == (
        Decimal("0.7")
    )


def test_getmetricdata_is_priced_per_metric_requested_two_for_each_running_service() -> None:
    digest = bill.digest_getmetricdata(Run({}, 0.0), 1000)
    assert digest.calls["cloudwatch.GetMetricData"] == 4  # 2,000 queries, 500 a request
    result = bill.bill(measured(1000, digest=digest), bill.stack(), set(), INSTANT)
    assert line(result, "GetMetricData").usd == Decimal(730) / 24 * 2000 * Decimal("0.01") / 1000


def test_the_off_hours_counts_are_billed_for_their_edge_hours_and_the_databases_only_in_a_stack_with_databases() -> (
    None
):
    # Given the off-hours counts (sent only when not zero), a daily metric and one sent only on failures
    counts = {("off-hours", "ServicesStopped"), ("off-hours", "ServicesStarted"), ("off-hours", "DatabasesStopped")}
    daily = {("cost-report", "DigestsPosted")}
    failures_only = {("off-hours", "ServicesFailed"), ("off-hours", "ScheduleErrors")}
    metrics = counts | daily | failures_only
    edge_hours = Decimal(730) / 24 * 5 / 7  # one off edge (and one on edge) each workday

    # When the month is billed for a stack without databases, and for one with some
    without = bill.bill(measured(), bill.stack(), metrics, INSTANT)
    with_databases = bill.bill(measured(), bill.stack(), metrics, replace(INSTANT, databases=20))

    # Then each count is billed for its edge hours, the databases' only with databases, failures not at all
    quantity = line(without, "CloudWatch custom metrics").quantity
    assert round(quantity, 9) == round((2 * edge_hours + Decimal(730) / 24) / 730, 9)
    assert round(line(with_databases, "CloudWatch custom metrics").quantity - quantity, 9) == round(edge_hours / 730, 9)
    assert quantity < Decimal("0.2")  # sent every tick, the three counts alone were three whole metric-months


def test_a_metric_with_a_cadence_the_bill_does_not_know_is_an_error_not_a_free_metric() -> None:
    with pytest.raises(KeyError):
        bill.metric_hours("every-full-moon", {"tick": Decimal(730)})


def test_the_organisation_digests_metrics_are_not_on_a_member_accounts_bill() -> None:
    emitted = bill.emitted_metrics()
    assert not {name for _, name in emitted} & {"OrgDigestsPosted", "IdleTicks"}
    assert {function for function, name in emitted if name == "CostExplorerRequests"} == {"cost-report"}


def test_every_metric_steward_emits_has_a_known_cadence() -> None:
    unknown = {name for _, name in bill.emitted_metrics()} - set(bill.METRIC_CADENCE)
    assert not unknown, f"add these to bench/bill.py METRIC_CADENCE: {sorted(unknown)}"


def test_the_fixed_part_counts_what_the_template_creates_with_each_configurations_parameters() -> None:
    defaults, lean = bill.stack(), bill.stack(bill.CONFIGURATIONS["lean"])
    nested = [r for r in template()["Resources"].values() if r["Type"] == "AWS::CloudFormation::Stack"]
    assert defaults.alarms == 3 * len(nested) == 18  # errors, throttles, dead letters for each of six functions
    assert defaults.kms_keys == 1  # TopicKey
    assert lean.alarms == len(nested) == 6  # the dead-letter alarm of each function, nothing else
    assert lean.kms_keys == 0  # TopicKmsKeyArn: the account's existing key
    assert defaults.memory_mb["cost-report"] == 512 and defaults.memory_mb["off-hours"] == 256


def test_the_counts_follow_the_template_not_a_number_written_in_the_bill(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given template.yaml with one health stack fewer, and a nested template with one more unconditional alarm
    root = copy.deepcopy(template())
    del root["Resources"]["RestoreOnDeleteHealth"]
    health = copy.deepcopy(template(HEALTH))
    health["Resources"]["ExtraAlarm"] = copy.deepcopy(health["Resources"]["DeadLettersAlarm"])

    def patched(path: Path = TEMPLATE) -> dict[str, Any]:
        return health if path == HEALTH else root

    monkeypatch.setattr(bill, "template", patched)

    # Then the defaults have 5 × 4 alarms and the lean configuration 5 × 2
    assert bill.stack().alarms == 20
    assert bill.stack(bill.CONFIGURATIONS["lean"]).alarms == 10


def test_a_parameter_the_template_does_not_declare_is_refused() -> None:
    with pytest.raises(KeyError):
        bill.stack({"HealthAlarm": "dead-letters"})


def test_the_lean_configuration_is_billed_for_six_dead_letter_alarms_and_no_key() -> None:
    lean = bill.bill(measured(), bill.stack(bill.CONFIGURATIONS["lean"]), set(), INSTANT)
    assert lean.configuration == "lean"
    assert line(lean, "CloudWatch alarms").usd == Decimal("0.60")
    assert line(lean, "KMS key").usd == 0


def test_the_goal_at_one_hundred_services_is_reported_missed_when_the_total_is_over_three_dollars() -> None:
    over = Bill(100, [Line("alarms", "alarms", Decimal(31), "", fixed=True)])  # 3.10 USD
    under = Bill(100, [Line("alarms", "alarms", Decimal(29), "", fixed=True)])
    assert bill.section([over])[1] and not bill.section([under])[1]
    assert "Dominating item: **alarms**" in "\n".join(bill.section([over])[0])


def test_the_goal_line_names_the_configuration_that_meets_it_and_the_goal_is_missed_only_when_none_does() -> None:
    over = Bill(100, [Line("alarms", "alarms", Decimal(31), "", fixed=True)], configuration="defaults")
    under = Bill(100, [Line("alarms", "alarms", Decimal(29), "", fixed=True)], configuration="lean")
    text, misses = bill.section([over, under])
    assert not misses
    assert "**met by lean**" in "\n".join(text)
    assert "defaults misses it" in "\n".join(text)


def test_idle_ticks_are_priced_as_idle_and_only_the_full_reconciles_as_full() -> None:
    # Given a full reconcile of one second and an idle tick of a tenth of one
    result = bill.bill(measured(quiet_tick=Run({}, 1.0), idle_tick=Run({}, 0.1)), bill.stack(), set(), INSTANT)
    ticks = Decimal(730) * 60 / 10
    full = Decimal(730) / 24 * 5 / 7 * 10 + Decimal(730) / 24 * 2 / 7 * 4
    transitions = Decimal(730) / 24 * 5 / 7 * 2
    # Then the GB-seconds are the idle ticks' tenth plus the quiet full reconciles' second, at 0.25 GB
    expected = ((ticks - full) * Decimal("0.1") + (full - transitions) * 1) * Decimal("0.25")
    assert round(line(result, "Lambda GB-seconds").quantity, 6) == round(expected, 6)
