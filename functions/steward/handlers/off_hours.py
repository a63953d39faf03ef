"""OffHoursFunction: every tick, stop what should be off and start what should be on (SPEC §3)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.models.schedules import OffHoursTick
from steward.observability import logger, metrics, traced
from steward.runtime import Rejected, held_back_by_pause, parse, runtime
from steward.settings.off_hours import OffHoursSettings
from steward.workflows import off_hours

SETTINGS = OffHoursSettings


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    tick = parse(OffHoursTick, event)
    if isinstance(tick, Rejected):
        return tick.result()
    rt = runtime(SETTINGS)
    return held_back_by_pause(rt, tick.now, "off-hours") or off_hours.run_tick(rt, now=tick.now)
