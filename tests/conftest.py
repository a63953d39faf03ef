"""Shared fixtures: a machine that never reaches AWS, moto (in-process and as a local server) behind the strict
layer that refuses what AWS refuses, the Slack stand-in, a Lambda context, and the sample events in events/."""

from __future__ import annotations

import json
import os
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import botocore.hooks
import botocore.loaders
import botocore.session
import pytest
from devtools.lambda_context import LambdaContext
from devtools.slack_standin import SlackStandIn
from devtools.strict import StrictAws, install
from devtools.template import ROOT, create_state_table
from moto import mock_aws
from moto.core.base_backend import AccountSpecificBackend
from moto.ec2.models.subnets import Subnet
from moto.rds.models import RDSBackend
from moto.server import ThreadedMotoServer

# Nothing in the test run may reach an address off this machine, or find real credentials.
OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-central-1",
    "AWS_REGION": "eu-central-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "SAM_CLI_TELEMETRY": "0",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
    "POWERTOOLS_METRICS_NAMESPACE": "Steward",
    # moto starts every service's first deployment IN_PROGRESS unless this many tasks "run": real services in
    # the fixtures are steady, so their deployments read COMPLETED.
    "MOTO_ECS_SERVICE_RUNNING": "1000",
    # moto builds its ~250 public AMIs into every new EC2 backend (each test that touches RDS or EC2 makes one, ~0.15 s
    # apiece); the one test that launches an instance registers its own image.
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}
for _key, _value in OFFLINE_ENV.items():
    os.environ[_key] = _value
for _key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_key, None)


def _one_loader_per_data_path() -> None:
    """botocore parses its JSON service models (endpoints, each service's API) again in every new Session, and the
    tests make hundreds (a fresh runtime per test, one per client, moto's fresh default session): they share one
    read-only loader per data path instead, as the clients of one Session always do."""
    loaders: dict[str | None, botocore.loaders.Loader] = {}
    create = botocore.loaders.create_loader

    def shared(search_path_string: str | None = None) -> botocore.loaders.Loader:
        if search_path_string not in loaders:
            loaders[search_path_string] = create(search_path_string)
        return loaders[search_path_string]

    botocore.session.create_loader = shared  # type: ignore[attr-defined]


def _session_setup_once_per_handler() -> None:
    """Each new Session registers some 150 event handlers, inspecting each one's signature and rewriting each event
    name through botocore's alias table from scratch. Both answers depend only on the handler's code and the event
    name, so they are worked out once per run: the same checks, with the same outcome."""
    inspect_kwargs = botocore.hooks.accepts_kwargs
    by_code: dict[types.CodeType, bool] = {}

    def accepts_kwargs(func: Any) -> bool:
        function = getattr(func, "__func__", func)
        if not isinstance(function, types.FunctionType) or hasattr(function, "__signature__"):
            return bool(inspect_kwargs(func))
        if function.__code__ not in by_code:
            by_code[function.__code__] = bool(inspect_kwargs(func))
        return by_code[function.__code__]

    botocore.hooks.accepts_kwargs = accepts_kwargs  # type: ignore[attr-defined]

    emitter = botocore.hooks.EventAliaser
    init = emitter.__init__
    aliased_names: dict[str, str] = {}

    def shared_alias_cache(self: Any, event_emitter: Any, event_aliases: Any = None) -> None:
        init(self, event_emitter, event_aliases)
        if event_aliases is None:  # botocore's own table: the same answer for every Session
            self._alias_name_cache = aliased_names

    emitter.__init__ = shared_alias_cache  # type: ignore[method-assign]


_one_loader_per_data_path()
_session_setup_once_per_handler()

EVENTS = ROOT / "events"
SLACK_TOKEN = "xoxb-test-0000000000-steward-token"
STATE_TABLE = "steward-test-state"
PAUSE_PARAMETER = "/steward-test/pause"
SCHEDULES_PARAMETER = "/steward-test/schedules"
SLACK_CHANNEL = "C0STEWARD01"

OFFICE_HOURS = {
    "office-hours": {
        "timezone": "Europe/Berlin",
        "periods": [{"days": "mon-fri", "start": "07:00", "stop": "20:00"}],
        "holidays": ["2026-12-24", "2026-12-25"],
    }
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "raw_moto: the test needs moto's own behaviour, without the strict layer")
    config.addinivalue_line("markers", "strict_refusals: the test provokes requests the strict layer refuses")
    config.addinivalue_line(
        "markers", "long_running: a test file that takes a worker 15 s or more (processes, a simulated night or day)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long-running files first, the rest in collection order (tests/unit, many short tests, last). Under pytest-xdist
    each worker takes the next whole file in this order as it frees up (--dist loadfile, --no-loadscope-reorder in
    pyproject.toml), so the long files start early and the short ones even out the finish: by test count instead, the
    README walk (4 tests, ~35 s) came last and one worker ran alone for ~25 s."""
    items.sort(key=lambda item: item.get_closest_marker("long_running") is None)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Figures a test records with record_property("figures", ...) (bad-input corpus size, faults injected), printed
    at the end of the run; under pytest-xdist they reach this controller with the test's report."""
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        for name, value in report.user_properties:
            if name == "figures":
                terminalreporter.write_line(str(value))


def load_event(relative: str) -> Any:
    """An event from events/ (a malformed one may not be JSON: then its raw text)."""
    text = (EVENTS / relative).read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def event_files(folder: str) -> list[Path]:
    return sorted((EVENTS / folder).glob("*.json"))


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    """Each test gets new settings, clients and caches, as a cold start would."""
    from aws_lambda_powertools.utilities import parameters

    from steward.adapters import slack
    from steward.adapters.pause import forget_reads
    from steward.runtime import shared_aws
    from steward.settings import load_settings

    load_settings.cache_clear()
    shared_aws.cache_clear()
    parameters.clear_caches()
    forget_reads()
    yield
    load_settings.cache_clear()
    shared_aws.cache_clear()
    # Keyed by the runtime's clients: kept, it would keep every test's clients (and all they reach) for the rest of the
    # run, for every full garbage collection to walk.
    slack._secrets.cache_clear()


@pytest.fixture(autouse=True)
def strict_aws(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[StrictAws | None]:
    """Every AWS request in every test meets AWS's rules (devtools/strict.py); "today" follows the handled event's
    day unless a test pins it (`strict_aws.today = date(...)`). A test marked raw_moto opts out."""
    if request.node.get_closest_marker("raw_moto"):
        yield None
        return
    layer = install(StrictAws(), monkeypatch.setattr)
    yield layer
    # Steward turns some refusals into a normal answer (e.g. "forecast unavailable"): a refusal nobody asked for
    # still fails the test, so no request AWS would reject can hide behind a graceful message.
    if layer.refusals and not request.node.get_closest_marker("strict_refusals"):
        pytest.fail("requests real AWS would refuse:\n" + "\n".join(layer.refusals), pytrace=False)


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture(autouse=True)
def restore_environment() -> Iterator[None]:
    """Whatever a test (or the code it runs, like the CLI) puts in os.environ is gone after it."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def steward_environment(monkeypatch: pytest.MonkeyPatch, **overrides: str) -> None:
    env = {
        "STEWARD_ENVIRONMENT": "dev",
        "DRY_RUN": "false",
        "STATE_TABLE": STATE_TABLE,
        "SLACK_CHANNEL": SLACK_CHANNEL,
        "SCHEDULES_PARAMETER": SCHEDULES_PARAMETER,
        "PAUSE_PARAMETER": PAUSE_PARAMETER,  # as the template sets it; absent in moto unless a test pauses
        **overrides,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@contextmanager
def mocked_aws() -> Iterator[None]:
    """`mock_aws()`, and when it ends, moto's caches that are keyed by its backends emptied. They are caches on methods
    (the regions of an account's backend, a subnet's address iterator, an engine's cluster options), so each keeps the
    backends of every world before it, EC2's hundreds of AMIs, snapshots and volumes included, and every full garbage
    collection of the run walks them: the heap grew by some 14,000 objects a test and collecting took a sixth of the
    run."""
    try:
        with mock_aws():
            yield
    finally:
        AccountSpecificBackend._generate_regions.cache_clear()
        Subnet._base_avail_ip_iterator.cache_clear()
        RDSBackend.db_cluster_options.cache_clear()


@pytest.fixture
def bare_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto with nothing in it: for tests that must make no AWS call at all (and must not reach AWS if they do)."""
    with mocked_aws():
        steward_environment(
            monkeypatch, SLACK_TOKEN_SECRET_ARN="arn:aws:secretsmanager:eu-central-1:123456789012:secret:x"
        )
        yield


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, slack: SlackStandIn) -> Iterator[None]:
    """In-process moto with Steward's table, schedules and Slack secret; env as template.yaml sets it."""
    with mocked_aws():
        create_state_table(boto3.client("dynamodb"), STATE_TABLE)
        boto3.client("ssm").put_parameter(Name=SCHEDULES_PARAMETER, Type="String", Value=json.dumps(OFFICE_HOURS))
        secret = boto3.client("secretsmanager").create_secret(
            Name="steward/slack", SecretString=json.dumps({"token": SLACK_TOKEN})
        )
        steward_environment(monkeypatch, SLACK_TOKEN_SECRET_ARN=secret["ARN"], SLACK_API_URL=slack.url)
        yield


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto as a real local endpoint on 127.0.0.1, for code that reaches AWS over HTTP (AWS_ENDPOINT_URL)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every AWS API call any boto3 client makes during the test, as 'service.Operation'."""
    from botocore.client import BaseClient

    calls: list[str] = []
    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        calls.append(f"{self.meta.service_model.service_name}.{operation_name}")
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return calls


def emitted_metrics(output: str) -> dict[str, float]:
    """Sum of each metric in the CloudWatch EMF lines Powertools printed."""
    totals: dict[str, float] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + (
                    sum(value) if isinstance(value, list) else value
                )
    return totals
