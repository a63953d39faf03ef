"""BudgetAlertFunction: turn AWS Budgets notifications into Slack alerts and, where configured, cost-saving action."""

from typing import TYPE_CHECKING, Any

from steward.handlers import loaded
from steward.models.budgets import SnsEvent
from steward.observability import logger, metrics, traced
from steward.runtime import Rejected, parse, runtime
from steward.settings.budget_alert import BudgetAlertSettings
from steward.workflows import budget_alert

if TYPE_CHECKING:  # only an annotation: importing it costs every cold start about 1 ms
    from aws_lambda_powertools.utilities.typing import LambdaContext

SETTINGS = BudgetAlertSettings


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: "LambdaContext") -> dict[str, Any]:
    records = parse(SnsEvent, event)  # each record's Message decoded into the kind of budget message it is
    if isinstance(records, Rejected):
        return records.result()
    return budget_alert.handle(runtime(SETTINGS), records)


loaded()  # last: the garbage collector runs again (steward/handlers/__init__.py)
