"""RestoreOnDeleteFunction: the stack's custom resource. When the stack is deleted, every service Steward holds at zero
is restored before Steward goes away."""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from steward.handlers import loaded
from steward.models.cloudformation import StackRequest
from steward.observability import logger, metrics, traced
from steward.runtime import Rejected, parse, runtime
from steward.settings.restore_on_delete import RestoreOnDeleteSettings
from steward.workflows import restore

if TYPE_CHECKING:  # only an annotation: importing it costs every cold start about 1 ms
    from aws_lambda_powertools.utilities.typing import LambdaContext

SETTINGS = RestoreOnDeleteSettings


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: "LambdaContext") -> dict[str, Any]:
    request = parse(StackRequest, event)
    if isinstance(request, Rejected):
        return request.result()  # no ResponseURL to answer: CloudFormation never sends such a request
    return restore.on_stack_request(runtime(SETTINGS), request, now=datetime.now(UTC))


loaded()  # last: the garbage collector runs again (steward/handlers/__init__.py)
