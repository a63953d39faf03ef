"""Every Slack message says what to do: where it comes from (environment, account), console links with the right
region, cluster, service, alarm and budget, when a stopped service comes back and the exact command that keeps it
awake, what to do after a rollback, why services were spared; one money format, one time format, grouped reasons;
and every message stays within Block Kit's limits however many services it speaks of."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest

from steward.apply import Applied, Status
from steward.domain import slack as blocks
from steward.domain.budgets import decide_alert
from steward.domain.costs import Digest, ServiceCosts
from steward.domain.off_hours import decide_each
from steward.domain.rollback import Deployment, Move, RollbackDecision
from steward.domain.schedules import parse_schedules
from steward.domain.services import OffHoursRecord, RestoreRecord, ServiceView, parse_instant
from steward.domain.spot import SpotService
from steward.models.budgets import BudgetNotification
from steward.reports import spot_fallback
from steward.reports.budget_alert import AlertOutcome, alert_message
from steward.reports.cost_report import render_digest, team_messages
from steward.reports.deploy_rollback import deployment, rollback
from steward.reports.off_hours import Outcome, TickReport

REGION, ACCOUNT = "eu-central-1", "123456789012"
NOW = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)  # Friday 20:00 in Berlin: office hours end
TASK_DEFINITION = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/api-gateway:"
OFFICE_HOURS = {
    "office-hours": {"timezone": "Europe/Berlin", "periods": [{"days": "mon-fri", "start": "07:00", "stop": "20:00"}]}
}
MONEY = re.compile(r"\d[\d,]*\.\d\d [A-Z]{3}\b")
ANY_DOLLAR = re.compile(r"\$\d")
INSTANT = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?(Z|[+-]\d\d:\d\d)")


def service(name: str, cluster: str = "pyairtable-dev", **tags: str) -> ServiceView:
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{name}"
    return ServiceView(cluster, name, arn, 2, {"steward:schedule": "office-hours", **tags})


def framed(message: blocks.SlackMessage) -> blocks.SlackMessage:
    """As the notifier posts it: cut to Slack's limits with room for the frame, then framed."""
    return blocks.framed(
        blocks.fit(message, room=blocks.FRAME_BLOCKS), "dev · all clusters", account=ACCOUNT, region=REGION
    )


def text_of(message: blocks.SlackMessage) -> str:
    return json.dumps([message.text, *message.blocks], ensure_ascii=False)


def assert_within_block_kit(message: blocks.SlackMessage) -> None:
    """Slack's Block Kit limits (Block Kit reference): 50 blocks, 3000 characters a section's text, 10 fields of
    2000, a header of 150, 10 context elements."""
    for each in (message, *message.replies):
        assert len(each.blocks) <= blocks.MAX_BLOCKS
        for block in each.blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= blocks.MAX_SECTION_TEXT
                assert block["text"]["text"].strip() or block.get("fields")
                assert len(block.get("fields", [])) <= blocks.MAX_FIELDS
                assert all(len(f["text"]) <= blocks.MAX_FIELD_TEXT for f in block.get("fields", []))
            if block["type"] == "header":
                assert len(block["text"]["text"]) <= blocks.MAX_HEADER_TEXT
            if block["type"] == "context":
                assert len(block["elements"]) <= blocks.MAX_CONTEXT_ELEMENTS
        assert_links_are_whole(each)


def assert_links_are_whole(message: blocks.SlackMessage) -> None:
    """A cut never leaves half a link: every '<' that opens a link is closed in the same text."""
    for block in message.blocks:
        texts = [block.get("text", {}).get("text", "")] + [e.get("text", "") for e in block.get("elements", [])]
        for text in texts:
            assert text.count("<") == text.count(">"), text[-200:]


def assert_one_money_and_time_format(message: blocks.SlackMessage) -> None:
    text = text_of(message)
    assert not ANY_DOLLAR.search(text), "money is '1,234.56 USD', never '$1,234.56'"
    for match in INSTANT.finditer(text):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ", match.group(0)), f"not UTC with Z: {match.group(0)}"


def tick(services: list[ServiceView], now: datetime = NOW) -> TickReport:
    verdicts = decide_each(services, parse_schedules(OFFICE_HOURS), {}, now)
    return TickReport([Outcome(Applied(v, Status.DONE)) for v in verdicts], now, dry_run=False)


# ------------------------------------------------------------------------------------------ the frame


def test_every_message_says_its_environment_account_and_region() -> None:
    # Given any message, with a thread reply
    message = blocks.SlackMessage("hello", (blocks.section("hello"),), replies=(blocks.SlackMessage("reply"),))

    # When the notifier frames it
    posted = framed(message)

    # Then it and its reply end with the environment, the account and the region
    for each in (posted, *posted.replies):
        assert each.blocks[-1]["elements"][0]["text"] == "dev · all clusters · account 123456789012 · eu-central-1"


# ------------------------------------------------------------------------------------------ off-hours


def test_a_stop_says_when_each_service_comes_back_and_the_exact_keep_awake_command() -> None:
    # Given two services on office hours at Friday's 20:00 stop
    report = tick([service("api-gateway"), service("frontend")])

    # When the tick is reported
    [message] = [framed(m) for m in report.messages()]

    # Then the stop names when they come back (Monday 07:00 Berlin, in UTC)
    text = text_of(message)
    assert "back at 2026-11-30T06:00Z (next scheduled start)" in text
    # and the exact keep-awake command, with the real ARN and an instant the tag accepts
    command = (
        "aws ecs tag-resource --resource-arn arn:aws:ecs:eu-central-1:123456789012:service/pyairtable-dev/api-gateway"
        " --tags key=steward:keep-awake-until,value=2026-11-30T06:00Z"
    )
    assert command in text
    assert parse_instant("2026-11-30T06:00Z") == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    # and each service links to its page in the ECS console, in its region
    url = "https://eu-central-1.console.aws.amazon.com/ecs/v2/clusters/pyairtable-dev/services/api-gateway/health?region=eu-central-1"
    assert f"<{url}|pyairtable-dev/api-gateway>" in text
    assert_one_money_and_time_format(message)


def test_reasons_are_grouped_one_line_per_reason_with_its_services_under_it() -> None:
    # Given 30 services stopped by one schedule edge
    report = tick([service(f"svc-{i:02}") for i in range(30)])

    # When the tick is reported
    [message] = report.messages()

    # Then the reason is written once, with the count and every service under it
    text = text_of(message)
    assert text.count("off: schedule office-hours") == 1
    assert "(30)" in text
    assert all(f"pyairtable-dev/svc-{i:02}" in text for i in range(30))


def test_a_tick_with_1000_services_stays_within_block_kit_limits() -> None:
    # Given 1,000 services stopped at once, in ten clusters, each with a long name
    services = [service(f"service-with-a-long-name-{i:04}", cluster=f"cluster-{i % 10}") for i in range(1000)]
    report = tick(services)

    # When the tick is reported
    [message] = [framed(m) for m in report.messages()]

    # Then the message stays within Slack's limits, says how many it left out, and keeps its frame
    assert_within_block_kit(message)
    assert "Off-hours: stopped 1000, started 0" in message.blocks[0]["text"]["text"]
    assert "more" in text_of(message)
    assert message.blocks[-1]["type"] == "context"


def test_started_and_skipped_services_are_grouped_by_reason_too() -> None:
    # Given a held service coming back at Monday's start and a protected one
    held = OffHoursRecord("e", RestoreRecord(2, None, NOW, "schedule", "e", status="stopped"))
    api = ServiceView(
        "pyairtable-dev",
        "api",
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/pyairtable-dev/api",
        0,
        {"steward:schedule": "office-hours"},
    )
    monday = datetime(2026, 11, 30, 6, 5, tzinfo=UTC)
    verdicts = decide_each([api], parse_schedules(OFFICE_HOURS), {"pyairtable-dev/api": held}, monday)
    report = TickReport([Outcome(Applied(v, Status.DONE)) for v in verdicts], monday, dry_run=False)

    # When it is reported
    [message] = report.messages()

    # Then the start is there, linked, and the time is UTC with Z
    text = text_of(message)
    assert "*Started* (1)" in text
    assert "/ecs/v2/clusters/pyairtable-dev/services/api/health?region=eu-central-1|pyairtable-dev/api>" in text
    assert "at 2026-11-30T06:05Z" in text
    assert_one_money_and_time_format(message)


# ------------------------------------------------------------------------------------------ rollback


def rolled_back(status: Status = Status.DONE) -> Applied[RollbackDecision]:
    failed = Deployment("ecs-svc/2", TASK_DEFINITION + "43", "COMPLETED", NOW, NOW)
    decision = RollbackDecision(
        Move.UPDATE_SERVICE,
        "alarm after deployment of api-gateway:43: back to api-gateway:42",
        target_task_definition=TASK_DEFINITION + "42",
        deployment=failed,
    )
    return Applied(decision, status, RuntimeError("AccessDenied") if status is Status.FAILED else None)


def test_a_rollback_names_the_failed_and_the_good_revision_and_how_to_redeploy() -> None:
    # When Steward rolled a service back after its alarm
    message = rollback(
        rolled_back(), service="pyairtable-dev/api-gateway", alarm="api-gateway 5xx", channel=None, region=REGION
    )
    assert message is not None
    text = text_of(framed(message))

    # Then it names both revisions and the command that redeploys the failed one once fixed
    assert "*Failed revision* `api-gateway:43`" in text
    assert "*Good revision* `api-gateway:42`" in text
    assert (
        "aws ecs update-service --cluster pyairtable-dev --service api-gateway --task-definition api-gateway:43" in text
    )
    # and links the alarm (name URL-encoded) and the service, in the alarm's region
    assert (
        "<https://eu-central-1.console.aws.amazon.com/cloudwatch/home?region=eu-central-1"
        "#alarmsV2:alarm/api-gateway%205xx|api-gateway 5xx>" in text
    )
    assert "/ecs/v2/clusters/pyairtable-dev/services/api-gateway/health?region=eu-central-1" in text
    assert "account 123456789012" in text


def test_a_failed_rollback_gives_the_command_to_roll_back_by_hand() -> None:
    message = rollback(
        rolled_back(Status.FAILED), service="pyairtable-dev/api-gateway", alarm="a", channel=None, region=REGION
    )
    assert message is not None
    assert "--task-definition api-gateway:42" in text_of(message)
    assert "roll back by hand" in text_of(message)


def test_a_deployment_message_links_the_service_in_the_task_definitions_region() -> None:
    update = Deployment("ecs-svc/3", TASK_DEFINITION + "44", "IN_PROGRESS", NOW, NOW)
    text = text_of(deployment("pyairtable-dev", "api-gateway", update, None))
    assert "eu-central-1.console.aws.amazon.com/ecs/v2/clusters/pyairtable-dev/services/api-gateway/health" in text


# ------------------------------------------------------------------------------------------ budget


BUDGET_TEXT = """AWS Budget Notification November 27, 2026
AWS Account 123456789012

Dear AWS Customer,

You requested that we alert you when the ACTUAL Cost associated with your dev-monthly budget is greater than $500.00 for the current month. The ACTUAL Cost associated with this budget is $503.90. You can find additional details below and by accessing the AWS Budgets dashboard [1].

Budget Name: dev-monthly
Budget Type: Cost
Budgeted Amount: $500.00
Alert Type: ACTUAL
Alert Threshold: > $500.00
ACTUAL Amount: $503.90
"""


def budget_outcome(stopped: list[str], spared: dict[str, str]) -> AlertOutcome:
    notification = BudgetNotification.from_text(BUDGET_TEXT)
    decision = decide_alert(notification, NOW, "stop", {"env": "dev"}, anomaly_multiple=10, environment="dev")
    drivers = [("llm-orchestrator", Decimal("181.2"), "USD"), ("", Decimal("40.05"), "USD")]
    return AlertOutcome(decision, drivers, stopped, "", spared, REGION)


def test_a_budget_stop_links_the_budget_and_cost_explorer_and_says_when_services_come_back() -> None:
    # Given a budget stop of one service, two spared for two reasons
    spared = {
        "pyairtable-dev/db": "steward:protected",
        "pyairtable-dev/web": "steward:protected",
        "pyairtable-dev/cron": "kept awake by steward:keep-awake-until",
    }
    outcome = budget_outcome(["pyairtable-dev/api-gateway"], spared)

    # When the alert is reported
    message = framed(alert_message(outcome, cost_tag_key="service", dry_run=False))
    text = text_of(message)

    # Then the budget links to its page in AWS Budgets
    assert "https://us-east-1.console.aws.amazon.com/costmanagement/home#/budgets/details?name=dev-monthly" in text
    # and each cost driver to Cost Explorer, filtered to that tag value over the budget's period
    explorer = next(u for u in re.findall(r"<(https://[^|>]+)\|Cost Explorer>", text))
    assert "startDate=2026-11-01" in explorer and "endDate=2026-11-30" in explorer
    assert '"growableValue":{"value":"service"' in unquote(explorer)
    assert '"values":[{"value":"llm-orchestrator"' in unquote(explorer)
    # and the stopped service comes back when the period resets, with the keep-awake command for sooner
    assert "They come back at 2026-12-01T00:00Z" in text
    assert (
        "aws ecs tag-resource --resource-arn arn:aws:ecs:eu-central-1:123456789012:service/pyairtable-dev/api-gateway"
        " --tags key=steward:keep-awake-until,value=2026-12-01T00:00Z" in text
    )
    # and the spared services, one line per reason, the services under it
    assert "*Spared* (3)" in text
    assert "• steward:protected (2): `pyairtable-dev/db`, `pyairtable-dev/web`" in text
    assert "• kept awake by steward:keep-awake-until (1): `pyairtable-dev/cron`" in text
    # in one money format (AWS's '$503.90' shown as 503.90 USD)
    assert "503.90 USD" in text and "500.00 USD" in text
    assert_one_money_and_time_format(message)
    assert "account 123456789012" in text


def test_a_budget_stop_of_1000_services_stays_within_block_kit_limits() -> None:
    stopped = [f"cluster-{i % 10}/service-with-a-long-name-{i:04}" for i in range(1000)]
    spared = {f"cluster-{i % 10}/spared-{i:04}": f"reason {i % 3}" for i in range(1000)}
    message = framed(alert_message(budget_outcome(stopped, spared), cost_tag_key="service", dry_run=False))
    assert_within_block_kit(message)
    assert "stopped 1000 service(s)" in text_of(message)


# ------------------------------------------------------------------------------------------ digest


def digest(count: int) -> Digest:
    services = tuple(
        ServiceCosts(
            f"service-{i:04}",
            yesterday=Decimal("1234.5") - i,
            day_before=Decimal(1000),
            week_before=Decimal(900),
            last_seven=tuple(Decimal(n) for n in range(7)),
            month_to_date=Decimal("23456.78"),
        )
        for i in range(count)
    )
    total = sum((s.yesterday for s in services), Decimal(0))
    return Digest(date(2026, 11, 26), "USD", services, total, total, total, total, False, (Decimal(9000), "USD"), None)


def test_the_digest_links_each_top_service_to_cost_explorer_in_one_money_and_date_format() -> None:
    message = framed(render_digest(digest(3), "dev", 10, cost_tag_key="service"))
    text = text_of(message)
    assert "Cost digest — dev — Thu 2026-11-26 (UTC)" in text
    assert "|service-0000> 1,234.50 USD" in text
    link = re.search(r"<(https://[^|>]+)\|service-0000>", text)
    assert link is not None
    assert "startDate=2026-11-13" in link.group(1) and "endDate=2026-11-26" in link.group(1)
    assert "account 123456789012" in text
    assert_one_money_and_time_format(message)


def test_a_digest_of_1000_services_stays_within_block_kit_limits() -> None:
    message = framed(render_digest(digest(1000), "dev", 25, cost_tag_key="service"))
    assert_within_block_kit(message)


def test_a_team_copy_uses_the_same_money_and_day_format() -> None:
    team = ServiceView("c", "service-0000", "", 1, {"steward:channel": "C0123456789", "service": "service-0000"})
    [message] = team_messages(digest(3), [team], "service")
    assert message.text == "Your services cost 1,234.50 USD on Thu 2026-11-26 (UTC)"


# ------------------------------------------------------------------------------------------ spot


def test_a_spot_fallback_links_the_service_in_its_region() -> None:
    spot = SpotService(
        "pyairtable-dev", "llm", 2, (), {}, arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/pyairtable-dev/llm"
    )
    text = text_of(framed(spot_fallback.fallback(spot, "Spot interruption", (), dry=False)))
    assert "<https://eu-central-1.console.aws.amazon.com/ecs/v2/clusters/pyairtable-dev/services/llm/health" in text
    assert "account 123456789012 · eu-central-1" in text


# ------------------------------------------------------------------------------------------ formats


@pytest.mark.parametrize(
    ("amount", "unit", "shown"),
    [
        ("412.37", "$", "412.37 USD"),
        ("132.3", "USD", "132.30 USD"),
        ("1234567.891", "USD", "1,234,567.89 USD"),
        ("90", "€", "90.00 EUR"),
    ],
)
def test_money_is_one_format(amount: str, unit: str, shown: str) -> None:
    assert blocks.money(Decimal(amount), unit) == shown


def test_time_is_utc_with_z_whatever_zone_it_arrives_in() -> None:
    assert blocks.when(datetime(2026, 11, 30, 7, 0, tzinfo=UTC)) == "2026-11-30T07:00Z"
    assert blocks.when(datetime(2026, 11, 30, 7, 0, tzinfo=ZoneInfo("Europe/Berlin"))) == "2026-11-30T06:00Z"


def test_a_name_in_a_link_cannot_become_markup() -> None:
    assert blocks.link("https://x", "a<b>|c") == "<https://x|a&lt;b&gt;|c>"
