"""SpotFallbackFunction: shift a service to on-demand when Spot fails it, and back once Spot is stable."""

from typing import TYPE_CHECKING, Any

from steward.handlers import loaded
from steward.models.ec2 import SpotInterruptionWarning
from steward.models.ecs import ServiceAction, SpotShiftBackTick, TaskStateChange
from steward.observability import logger, metrics, traced
from steward.runtime import Accepts, Rejected, runtime
from steward.settings.spot_fallback import SpotFallbackSettings
from steward.workflows import spot_fallback

if TYPE_CHECKING:  # only an annotation: importing it costs every cold start about 1 ms
    from aws_lambda_powertools.utilities.typing import LambdaContext

SETTINGS = SpotFallbackSettings
ACCEPTS = Accepts(TaskStateChange, ServiceAction, SpotInterruptionWarning, SpotShiftBackTick)


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: "LambdaContext") -> dict[str, Any]:
    signal = ACCEPTS.parse(event)
    if isinstance(signal, Rejected):
        return signal.result()
    return spot_fallback.handle(runtime(SETTINGS), signal)


loaded()  # last: the garbage collector runs again (steward/handlers/__init__.py)
