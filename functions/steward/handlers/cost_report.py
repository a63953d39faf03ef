"""CostReportFunction: the daily per-service cost digest in Slack."""

from typing import TYPE_CHECKING, Any

from steward.handlers import loaded
from steward.models.schedules import CostDigestTick
from steward.observability import logger, metrics, traced
from steward.runtime import Rejected, parse, runtime
from steward.settings.cost_report import CostReportSettings
from steward.workflows import cost_report

if TYPE_CHECKING:  # only an annotation: importing it costs every cold start about 1 ms
    from aws_lambda_powertools.utilities.typing import LambdaContext

SETTINGS = CostReportSettings


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: "LambdaContext") -> dict[str, Any]:
    tick = parse(CostDigestTick, event)
    if isinstance(tick, Rejected):
        return tick.result()
    return cost_report.run_digest(runtime(SETTINGS), now=tick.now)


loaded()  # last: the garbage collector runs again (steward/handlers/__init__.py)
