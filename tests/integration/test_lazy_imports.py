"""A function's cold start loads only what that function uses: the X-Ray SDK only when the stack traces, slack-sdk
only when a message is posted, pydantic's TypeAdapter only when an event of a union is parsed, Powertools' typing
module (an annotation) never. Each case runs a fresh interpreter, as Lambda does."""

from __future__ import annotations

import json
import os
import pkgutil
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


# The event models each function reads (budget alerts come through SNS, the digests from schedules: no EventBridge
# envelope): every pydantic class built at import is a cost its cold starts pay.
OWN_MODELS = {
    "off_hours": {"steward.models.base", "steward.models.eventbridge", "steward.models.off_hours"},
    "spot_fallback": {"steward.models.base", "steward.models.eventbridge", "steward.models.ecs", "steward.models.ec2"},
    "deploy_rollback": {
        "steward.models.base",
        "steward.models.eventbridge",
        "steward.models.cloudwatch",
        "steward.models.ecs_deployments",
    },
    "budget_alert": {"steward.models.base", "steward.models.budgets"},
    "cost_report": {"steward.models.base", "steward.models.schedules"},
}
LOADED = """
import json, sys
__import__(f"steward.handlers.{sys.argv[1]}")
print(json.dumps(sorted(name for name in sys.modules if name.startswith("steward."))))
"""


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_cold_start_builds_only_the_event_models_and_the_workflow_of_its_own_function(handler: str) -> None:
    env = {**os.environ, **OFFLINE_ENV}
    done = subprocess.run([sys.executable, "-c", LOADED, handler], capture_output=True, text=True, env=env, check=True)
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))

    assert {name for name in loaded if name.startswith("steward.models.")} == OWN_MODELS[handler]
    assert {name for name in loaded if name.startswith("steward.workflows.")} == {f"steward.workflows.{handler}"}
    if handler == "off_hours":
        assert not {"steward.domain.costs", "steward.domain.db_prices"} & loaded, "the digest's prices are not a tick's"


GARBAGE = """
import gc, json, sys
while_loading = []  # collections once boto3 has begun to load and before anything is frozen
gc.callbacks.append(
    lambda phase, info: phase == "stop" and "boto3" in sys.modules and not gc.get_freeze_count()
    and while_loading.append(info["generation"])
)
__import__(f"steward.handlers.{sys.argv[1]}")
print(json.dumps({"while_loading": while_loading, "enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""


def every_handler_module() -> list[str]:
    import steward.handlers

    return [module.name for module in pkgutil.iter_modules(steward.handlers.__path__)]


@pytest.mark.parametrize("handler", every_handler_module())
def test_a_cold_start_spends_no_time_collecting_garbage_and_its_invocations_collect_again(handler: str) -> None:
    # Given a fresh interpreter, as Lambda starts one; when it loads the handler module (boto3, pydantic, Powertools,
    # Steward: every one of them after steward.handlers pauses the collector)
    env = {**os.environ, **OFFLINE_ENV}
    done = subprocess.run([sys.executable, "-c", GARBAGE, handler], capture_output=True, text=True, env=env, check=True)
    loading = json.loads(done.stdout.strip().splitlines()[-1])

    # then no collection ran while it loaded, what it built is frozen out of later ones, and the collector is on again
    # for what invocations allocate (a handler module that forgot `loaded()` would leave it off for the container's life)
    assert loading["while_loading"] == []
    assert loading["frozen"] > 10_000
    assert loading["enabled"] is True
