"""The Powertools Logger, Metrics and (when the stack traces) Tracer every function shares.

The service name comes from POWERTOOLS_SERVICE_NAME (set per function in template.yaml); the metric
namespace is fixed so dashboards and alarms can rely on it.

Tracing is the stack's `Tracing` parameter, passed as Powertools' own POWERTOOLS_TRACE_DISABLED. The X-Ray SDK
builds a botocore client for its sampler when it is imported (about 100 ms of every cold start), so it is imported
only by a function that traces.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

METRIC_NAMESPACE = "Steward"

logger = Logger()
metrics = Metrics(namespace=METRIC_NAMESPACE)
# A run with nothing to count (an idle tick, a quiet reconcile) sends no metrics by design; Powertools would say so
# in a warning line in the function's log.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def tracing_enabled() -> bool:
    return not resolve_truthy_env_var_choice(env=os.getenv("POWERTOOLS_TRACE_DISABLED", "false"))


@functools.cache
def tracer() -> Tracer | None:
    """The one Tracer, created on the first invocation of a function that traces; None when tracing is off."""
    if not tracing_enabled():
        return None
    from aws_lambda_powertools import Tracer

    return Tracer()


def traced[Handler: Callable[..., Any]](handler: Handler) -> Handler:
    """The handler inside an X-Ray subsegment (every AWS call patched) when tracing is on; as it is when it is off."""

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        return _as_configured(handler)(event, context)

    return cast(Handler, run)


@functools.cache
def _as_configured(handler: Callable[..., Any]) -> Callable[..., Any]:
    active = tracer()
    return active.capture_lambda_handler(handler) if active else handler
