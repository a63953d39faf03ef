"""OrgDigestFunction: the daily organisation cost digest in Slack, from the management account."""

from typing import TYPE_CHECKING, Any

from steward.handlers import loaded
from steward.models.schedules import CostDigestTick
from steward.observability import logger, metrics, traced
from steward.runtime import Rejected, parse, runtime
from steward.settings.org_digest import OrgDigestSettings
from steward.workflows import org_digest

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

SETTINGS = OrgDigestSettings


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: "LambdaContext") -> dict[str, Any]:
    tick = parse(CostDigestTick, event)
    if isinstance(tick, Rejected):
        return tick.result()
    return org_digest.run_org_digest(runtime(SETTINGS), now=tick.now)


loaded()  # last: the garbage collector runs again (steward/handlers/__init__.py)
