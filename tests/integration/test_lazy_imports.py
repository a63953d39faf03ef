"""A function's cold start loads only what that function uses: the X-Ray SDK only when the stack traces, slack-sdk
only when a message is posted, pydantic's TypeAdapter only when an event of a union is parsed, Powertools' typing
module (an annotation) never. Each case runs a fresh interpreter, as Lambda does."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import OFFLINE_ENV

HANDLERS = ("off_hours", "spot_fallback", "deploy_rollback", "budget_alert", "cost_report")
PROBE = """
import json, sys
from devtools.lambda_context import LambdaContext
handler = __import__(f"steward.handlers.{sys.argv[1]}", fromlist=["lambda_handler"])
LAZY = (
    "aws_xray_sdk.core",
    "slack_sdk",
    "aws_lambda_powertools.utilities.parameters",
    "pydantic.type_adapter",
    "aws_lambda_powertools.utilities.typing",
)
loaded_at_import = sorted(m for m in LAZY if m in sys.modules)
result = handler.lambda_handler({"detail-type": "not a Steward event"}, LambdaContext())
print(json.dumps({
    "at_import": loaded_at_import,
    "after_first_event": sorted(m for m in LAZY if m in sys.modules),
    "outcome": result.get("outcome"),
}))
"""


def first_invocation(handler: str, trace_disabled: str) -> dict[str, object]:
    env = {**os.environ, **OFFLINE_ENV, "POWERTOOLS_TRACE_DISABLED": trace_disabled}
    done = subprocess.run([sys.executable, "-c", PROBE, handler], capture_output=True, text=True, env=env, check=True)
    loaded: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_stack_without_tracing_never_loads_the_xray_sdk_slack_sdk_secrets_or_type_adapters_for_an_ignored_event(
    handler: str,
) -> None:
    loaded = first_invocation(handler, trace_disabled="true")

    assert loaded == {"at_import": [], "after_first_event": [], "outcome": "rejected"}


def test_a_tracing_stack_loads_the_xray_sdk_on_its_first_invocation_not_at_import() -> None:
    loaded = first_invocation("off_hours", trace_disabled="false")

    assert loaded["at_import"] == []
    assert loaded["after_first_event"] == ["aws_xray_sdk.core"]
