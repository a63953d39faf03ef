"""Budget alert messages: the threshold reached, the period's top cost drivers, and what the budget action did to
services and databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from msgspec import Struct

from steward.domain import slack as blocks
from steward.domain.budgets import AlertDecision
from steward.domain.databases import DatabaseView
from steward.domain.slack import money

# The period's spend by cost tag (name, amount, unit), largest first, or why it is unavailable.
Drivers = list[tuple[str, Decimal, str]] | str


class AlertOutcome(Struct, frozen=True):
    """What became of one alert: its decision, the cost drivers it shows, and the services its action stopped (named
    with " (dry run)" when they only would have been) and the databases it stopped."""

    decision: AlertDecision
    drivers: Drivers
    stopped: list[str]
    nothing_to_stop: str = ""  # why an action that ran stopped nothing: what its selector found
    spared: dict[str, str] = {}  # services the selector matched but the action left running, and why
    region: str = ""  # the stack's region: where the stopped services' console pages and ARNs are
    stopped_databases: list[DatabaseView] = []  # in a dry run, those it would have stopped
    spared_databases: dict[str, str] = {}  # databases the selector matched but the action left running, and why

    @property
    def action(self) -> str:
        """What the action did or why it did nothing, in one sentence (the log line and the handler's result)."""
        return self.nothing_to_stop or self.decision.verdict.reason


def alert_message(outcome: AlertOutcome, *, cost_tag_key: str, dry_run: bool) -> blocks.SlackMessage:
    decision = outcome.decision
    notification = decision.notification
    unit = notification.currency
    kind = "forecast" if notification.alert_type == "FORECASTED" else "actual"
    title = f"Budget {notification.budget_name}: {decision.threshold} % threshold ({notification.alert_type})"
    if decision.anomalous:
        title = f"Budget {notification.budget_name}: suspected billing-estimate anomaly"
    period = decision.period.key if decision.period.known else "period unknown"
    budget = blocks.link(blocks.budget_url(notification.budget_name), "open in AWS Budgets")
    fields = [
        f"*Budget*\n{blocks.escape(notification.budget_name)} ({period}) · {budget}",
        f"*Alert*\n{notification.alert_type} ≥ {decision.threshold} %",
        f"*{kind.capitalize()}*\n{money(notification.reported_amount, unit)}",
        f"*Budgeted*\n{money(notification.budgeted_amount, unit)}",
    ]
    text = f"{title}: {kind} {money(notification.reported_amount, unit)} of {money(notification.budgeted_amount, unit)}"
    body: list[blocks.Block] = [
        blocks.header(title),
        blocks.section(" ", fields=fields),
        *blocks.lines_in_sections("", _drivers_lines(outcome, cost_tag_key), most=3),
        *blocks.lines_in_sections("", _action_lines(outcome, dry_run=dry_run), most=SECTIONS_FOR_ACTION),
    ]
    if outcome.spared:
        body += blocks.lines_in_sections(
            f"*Spared* ({len(outcome.spared)}): matched by the selector, left running",
            _spared_lines(outcome.spared),
            most=SECTIONS_FOR_SPARED,
        )
    if outcome.spared_databases:
        body += blocks.lines_in_sections(
            f"*Spared databases* ({len(outcome.spared_databases)}): matched by the selector, left running",
            _spared_lines(outcome.spared_databases),
            most=SECTIONS_FOR_SPARED_DATABASES,
        )
    return blocks.SlackMessage(text=("[dry run] " if dry_run else "") + text, blocks=tuple(body))


SECTIONS_FOR_ACTION = 20  # with the header, fields, drivers and spared sections, well under Slack's 50 blocks
SECTIONS_FOR_SPARED = 10
SECTIONS_FOR_SPARED_DATABASES = 5  # with the other sections and the frame, still under Slack's 50 blocks
KEEP_AWAKE_COMMANDS = 5  # more would bury the message; the others differ only in the ARN


def _drivers_lines(outcome: AlertOutcome, cost_tag_key: str) -> list[str]:
    drivers = outcome.drivers
    if isinstance(drivers, str):
        return [f"_Top cost drivers unavailable: {blocks.escape(drivers)}_"]
    period = outcome.decision.period
    last_day = period.end - timedelta(days=1)  # the console's end date is inclusive
    lines = [f"*Top cost drivers this period* (by `{blocks.escape(cost_tag_key)}`)"]
    for name, amount, unit in drivers:
        url = blocks.cost_explorer_url(cost_tag_key, name, period.start, last_day) if period.known and name else ""
        explore = f" · {blocks.link(url, 'Cost Explorer')}" if url else ""
        lines.append(f"• {blocks.escape(name) or '_untagged_'}: {money(amount, unit)}{explore}")
    return lines if drivers else [*lines, "none"]


def _action_lines(outcome: AlertOutcome, *, dry_run: bool) -> list[str]:
    if not (outcome.stopped or outcome.stopped_databases):
        return [f"*Action:* none — {blocks.escape(outcome.action)}"]
    lines = _service_lines(outcome) if outcome.stopped else []
    if outcome.stopped_databases:
        lines += _database_lines(outcome, dry_run=dry_run, first=not outcome.stopped)
    return lines


def _service_lines(outcome: AlertOutcome) -> list[str]:
    decision, region = outcome.decision, outcome.region
    back = blocks.when(decision.period.resets_at)
    names = []
    for key in outcome.stopped:
        cluster, _, name = key.removesuffix(" (dry run)").partition("/")
        names.append(blocks.link(blocks.ecs_service_url(region, cluster, name), key))
    lines = [
        f"*Action:* stopped {len(outcome.stopped)} service(s): {blocks.joined(names)}",
        f"They come back at {back}, when the budget period resets. To bring one back sooner, keep it awake:",
    ]
    account = decision.notification.account_id
    commands = []
    for key in outcome.stopped[:KEEP_AWAKE_COMMANDS]:
        cluster, _, name = key.removesuffix(" (dry run)").partition("/")
        arn = blocks.service_arn(region, account, cluster, name) or f"<ARN of {key}>"
        commands.append(blocks.escape(blocks.keep_awake_command(arn, decision.period.resets_at)))
    lines.append("```" + "\n".join(commands) + "```")
    if len(outcome.stopped) > KEEP_AWAKE_COMMANDS:
        lines.append(f"For the other {len(outcome.stopped) - KEEP_AWAKE_COMMANDS}, the same command with their ARNs.")
    return lines


def _database_lines(outcome: AlertOutcome, *, dry_run: bool, first: bool) -> list[str]:
    """The databases stopped, when they start again, and the command that starts one sooner."""
    databases, until = outcome.stopped_databases, outcome.decision.period.resets_at
    suffix = " (dry run)" if dry_run else ""
    names = [blocks.link(_rds_url(db), db.key + suffix) for db in databases]
    lead = "*Action:* stopped" if first else "Also stopped"
    lines = [
        f"{lead} {len(databases)} database(s): {blocks.joined(names)} (their storage is still billed while stopped)",
        f"They start at {blocks.when(until)}, when the budget period resets (one with a steward:schedule tag at its "
        "next scheduled start, if that comes first). To start one sooner, keep it awake; off-hours starts it on its "
        "next tick:",
    ]
    commands = [blocks.escape(keep_awake_database_command(db.arn, until)) for db in databases[:KEEP_AWAKE_COMMANDS]]
    lines.append("```" + "\n".join(commands) + "```")
    if len(databases) > KEEP_AWAKE_COMMANDS:
        lines.append(f"For the other {len(databases) - KEEP_AWAKE_COMMANDS}, the same command with their ARNs.")
    return lines


def _rds_url(db: DatabaseView) -> str:
    return blocks.rds_database_url(blocks.arn_region(db.arn), db.kind, db.identifier)


def keep_awake_database_command(arn: str, until: datetime) -> str:
    """The AWS CLI command that keeps a database awake until `until` (AWS CLI reference, rds add-tags-to-resource)."""
    tag = f"Key=steward:keep-awake-until,Value={blocks.when(until)}"
    return f"aws rds add-tags-to-resource --resource-name {arn} --tags {tag}"


def _spared_lines(spared: dict[str, str]) -> list[str]:
    """One line per reason, the services it spared under it."""
    return [
        f"• {blocks.escape(reason)} ({len(keys)}): {blocks.joined([f'`{blocks.escape(key)}`' for key in keys])}"
        for reason, keys in blocks.grouped((why, key) for key, why in spared.items())
    ]
