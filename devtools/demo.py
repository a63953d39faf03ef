"""`make demo`: a day in the life of the reference platform, through the real handlers, against a local moto
server and the Slack stand-in. Prints one line per step, writes demo-output/slack.html, and exits non-zero if
the platform does not end the day exactly as it started it."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from devtools.platform import seed_reference_platform, service_sizes
from devtools.slack_html import render_page
from devtools.slack_standin import SlackStandIn
from devtools.template import ROOT, create_state_table

OUTPUT = ROOT / "demo-output"
EVENTS = ROOT / "events"
STATE_TABLE = "steward-demo-state"
SCHEDULES_PARAMETER = "/steward-demo/schedules"
CHANNEL = "C0DEMO00001"
SCHEDULES = {
    "office-hours": {
        "timezone": "Europe/Berlin",
        "periods": [{"days": "mon-fri", "start": "07:00", "stop": "20:00"}],
        "holidays": ["2026-12-24", "2026-12-25", "2026-12-31"],
    }
}


@dataclass
class Context:
    function_name: str = "steward-demo"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:eu-central-1:123456789012:function:steward-demo"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "demo"

    def get_remaining_time_in_millis(self) -> int:
        return 600_000


@dataclass(frozen=True)
class Step:
    title: str
    function: str
    event: dict[str, Any]
    summary: Callable[[dict[str, Any]], str]


def schedule_tick(task: str, now: str) -> dict[str, Any]:
    return {"source": "steward.scheduler", "task": task, "now": now}


def sample(relative: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / relative).read_text())
    return loaded


def off_hours_summary(result: dict[str, Any]) -> str:
    names = lambda key: ", ".join(s["service"].split("/")[-1] for s in result.get(key, [])) or "none"  # noqa: E731
    return f"stopped: {names('stopped')} | started: {names('started')} | {result.get('unchanged', 0)} unchanged"


def outcome_summary(result: dict[str, Any]) -> str:
    return f"{result.get('outcome')}: {result.get('reason') or result.get('records') or ''}"


def day() -> list[Step]:
    return [
        Step(
            "Fri 20:00 Berlin — evening shutdown",
            "off_hours",
            schedule_tick("off-hours-tick", "2026-11-27T19:00:00Z"),
            off_hours_summary,
        ),
        Step(
            "Fri 23:00 — frontend's keep-awake expires",
            "off_hours",
            schedule_tick("off-hours-tick", "2026-11-27T22:00:00Z"),
            off_hours_summary,
        ),
        Step(
            "Fri 23:10 — a duplicate tick changes nothing",
            "off_hours",
            schedule_tick("off-hours-tick", "2026-11-27T22:10:00Z"),
            off_hours_summary,
        ),
        Step(
            "Spot interruption on llm-orchestrator",
            "spot_fallback",
            sample("spot_fallback/FargateSpotTaskStopped--spot-interruption.json"),
            outcome_summary,
        ),
        Step(
            "Deployment of api-gateway completes",
            "deploy_rollback",
            sample("deploy_rollback/DeploymentChanged--completed.json"),
            outcome_summary,
        ),
        Step(
            "api-gateway 5xx alarm fires",
            "deploy_rollback",
            sample("deploy_rollback/AlarmFired--service-metric.json"),
            outcome_summary,
        ),
        Step(
            "Budget alert: dev at 80 %",
            "budget_alert",
            sample("budget_alert/BudgetNotification--monthly-actual-80.json"),
            outcome_summary,
        ),
        Step(
            "Mon 07:00 Berlin — morning start",
            "off_hours",
            schedule_tick("off-hours-tick", "2026-11-30T06:00:00Z"),
            off_hours_summary,
        ),
        Step(
            "Mon 07:30 — the morning cost digest",
            "cost_report",
            schedule_tick("cost-digest", "2026-11-30T06:30:00Z"),
            outcome_summary,
        ),
    ]


def configure(endpoint: str, slack: SlackStandIn) -> None:
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "eu-central-1",
            "AWS_REGION": "eu-central-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "STEWARD_ENVIRONMENT": "dev",
            "DRY_RUN": "false",
            "STATE_TABLE": STATE_TABLE,
            "SCHEDULES_PARAMETER": SCHEDULES_PARAMETER,
            "SLACK_CHANNEL": CHANNEL,
            "SLACK_API_URL": slack.url,
        }
    )
    os.environ.pop("AWS_PROFILE", None)


def seed() -> dict[str, dict[str, Any]]:
    session = boto3.session.Session()
    create_state_table(session.client("dynamodb"), STATE_TABLE)
    session.client("ssm").put_parameter(Name=SCHEDULES_PARAMETER, Type="String", Value=json.dumps(SCHEDULES))
    secret = session.client("secretsmanager").create_secret(Name="steward/slack", SecretString='{"token": "xoxb-demo"}')
    os.environ["SLACK_TOKEN_SECRET_ARN"] = secret["ARN"]
    seed_reference_platform(session)
    ecs = session.client("ecs")
    frontend = ecs.describe_services(cluster="pyairtable-dev", services=["frontend"])["services"][0]["serviceArn"]
    ecs.tag_resource(resourceArn=frontend, tags=[{"key": "steward:keep-awake-until", "value": "2026-11-27T22:00:00Z"}])
    return service_sizes(session)


def main() -> int:
    started = time.monotonic()
    os.environ.setdefault("MOTO_ECS_SERVICE_RUNNING", "1000")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with SlackStandIn() as slack:
        configure(f"http://{host}:{port}", slack)
        morning_sizes = seed()
        print(f"moto on http://{host}:{port}, Slack stand-in on {slack.url}")
        print(f"seeded pyairtable-dev: {', '.join(f'{n}={s["desired"]}' for n, s in morning_sizes.items())}")
        context = Context()
        for number, step in enumerate(day(), start=1):
            handler = importlib.import_module(f"steward.handlers.{step.function}").lambda_handler
            result = handler(step.event, context)
            print(f"{number:>2}. {step.title:<48} {step.summary(result)}")

        end_sizes = service_sizes(boto3.session.Session())
        OUTPUT.mkdir(exist_ok=True)
        page = OUTPUT / "slack.html"
        page.write_text(render_page(slack.messages))
        (OUTPUT / "slack.json").write_text(json.dumps([m.body for m in slack.messages], indent=2, default=str))
        print(f"{len(slack.messages)} Slack messages → {page}")
    server.stop()

    wrong = {name: (size, end_sizes.get(name)) for name, size in morning_sizes.items() if end_sizes.get(name) != size}
    if wrong:
        for name, (expected, actual) in wrong.items():
            print(f"NOT RESTORED {name}: expected {expected}, found {actual}", file=sys.stderr)
        return 1
    print(f"every service is back at its morning size ({time.monotonic() - started:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
