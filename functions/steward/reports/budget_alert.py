"""Budget alert messages: the threshold reached, the period's top cost drivers, and what the budget action did."""

from __future__ import annotations

from decimal import Decimal

from msgspec import Struct

from steward.domain import slack as blocks
from steward.domain.budgets import AlertDecision
from steward.domain.slack import money

# The period's spend by cost tag (name, amount, unit), largest first, or why it is unavailable.
Drivers = list[tuple[str, Decimal, str]] | str


class AlertOutcome(Struct, frozen=True):
    """What became of one alert: its decision, the cost drivers it shows, and the services its action stopped (named
    with " (dry run)" when they only would have been)."""

    decision: AlertDecision
    drivers: Drivers
    stopped: list[str]
    nothing_to_stop: str = ""  # why an action that ran stopped nothing: what its selector found

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
    fields = [
        f"*Budget*\n{blocks.escape(notification.budget_name)} ({period})",
        f"*Alert*\n{notification.alert_type} ≥ {decision.threshold} %",
        f"*{kind.capitalize()}*\n{money(notification.reported_amount, unit)}",
        f"*Budgeted*\n{money(notification.budgeted_amount, unit)}",
    ]
    text = f"{title}: {kind} {money(notification.reported_amount, unit)} of {money(notification.budgeted_amount, unit)}"
    return blocks.SlackMessage(
        text=("[dry run] " if dry_run else "") + text,
        blocks=(
            blocks.header(title),
            blocks.section(" ", fields=fields),
            blocks.section(_drivers_text(outcome.drivers, cost_tag_key)),
            blocks.section(_action_text(outcome)),
        ),
    )


def _drivers_text(drivers: Drivers, cost_tag_key: str) -> str:
    if isinstance(drivers, str):
        return f"_Top cost drivers unavailable: {blocks.escape(drivers)}_"
    lines = [f"• {blocks.escape(name) or '_untagged_'}: {money(amount, unit)}" for name, amount, unit in drivers]
    return f"*Top cost drivers this period* (by `{blocks.escape(cost_tag_key)}`)\n" + ("\n".join(lines) or "none")


def _action_text(outcome: AlertOutcome) -> str:
    if not outcome.stopped:
        return f"*Action:* none — {blocks.escape(outcome.action)}"
    names = ", ".join(f"`{blocks.escape(name)}`" for name in outcome.stopped)
    return (
        f"*Action:* stopped {len(outcome.stopped)} service(s): {names}"
        "\nThey come back at their next scheduled start, when the period resets, or with steward:keep-awake-until."
    )
