"""OffHoursFunction: every tick, stop what should be off and start what should be on (SPEC §3); and when RDS starts
a database, stop it again if its schedule says off and Steward held it stopped (AWS's seven-day automatic start)."""

from typing import TYPE_CHECKING, Any

from steward.handlers import loaded
from steward.models.off_hours import OffHoursTick, RdsEvent
from steward.observability import logger, metrics, traced
from steward.runtime import Accepts, Rejected, held_back_by_pause, runtime
from steward.settings.off_hours import OffHoursSettings
from steward.workflows import off_hours

if TYPE_CHECKING:  # only an annotation: importing it costs every cold start about 1 ms
    from aws_lambda_powertools.utilities.typing import LambdaContext

SETTINGS = OffHoursSettings
ACCEPTS = Accepts(OffHoursTick, RdsEvent)


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: "LambdaContext") -> dict[str, Any]:
    signal = ACCEPTS.parse(event)
    if isinstance(signal, Rejected):
        return signal.result()
    rt = runtime(SETTINGS)
    if isinstance(signal, OffHoursTick):
        return held_back_by_pause(rt, signal.now, "off-hours") or off_hours.run_tick(rt, now=signal.now)
    assert isinstance(signal, RdsEvent)
    return held_back_by_pause(rt, signal.time, "off-hours") or off_hours.on_database_event(rt, signal)


loaded()  # last: the garbage collector runs again (steward/handlers/__init__.py)
