"""DeployRollbackFunction: keep a deployment history and roll a service back when an alarm follows a deploy."""

from typing import TYPE_CHECKING, Any

from steward.handlers import loaded
from steward.models.cloudwatch import AlarmStateChange
from steward.models.ecs_deployments import DeploymentStateChange
from steward.observability import logger, metrics, traced
from steward.runtime import Accepts, Rejected, runtime
from steward.settings.deploy_rollback import DeployRollbackSettings
from steward.workflows import deploy_rollback

if TYPE_CHECKING:  # only an annotation: importing it costs every cold start about 1 ms
    from aws_lambda_powertools.utilities.typing import LambdaContext

SETTINGS = DeployRollbackSettings
ACCEPTS = Accepts(AlarmStateChange, DeploymentStateChange)


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: "LambdaContext") -> dict[str, Any]:
    signal = ACCEPTS.parse(event)
    if isinstance(signal, Rejected):
        return signal.result()
    return deploy_rollback.handle(runtime(SETTINGS), signal)


loaded()  # last: the garbage collector runs again (steward/handlers/__init__.py)
