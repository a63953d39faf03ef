"""`make demo`: a day in the life of the reference platform, through the real handlers, against a local moto
server and the Slack stand-in. One line per step with what changed in AWS; every Slack message to
demo-output/slack.html; exit 1 if the platform does not end the day exactly as it started it.

moto keeps no capacity provider strategies or deployment lists and has no GetCostForecast: ECS goes through
devtools.ecs_overlay.EcsOverlay, and the forecast is answered by a botocore hook, as in the tests. Every request
meets the AWS rules moto does not check (devtools.strict), "today" being the day of the event handled."""

from __future__ import annotations

import copy
import importlib
import io
import json
import logging
import os
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from moto.server import ThreadedMotoServer

from devtools.ecs_overlay import EcsOverlay
from devtools.lambda_context import LambdaContext
from devtools.platform import (
    CLUSTER,
    REFERENCE_SERVICES,
    create_database,
    database_states,
    seed_databases,
    seed_reference_platform,
    service_sizes,
)
from devtools.slack_html import render_page
from devtools.slack_standin import SlackStandIn
from devtools.strict import installed
from devtools.template import ROOT, create_state_table, template
from steward.domain.slack import money

OUTPUT = ROOT / "demo-output"
EVENTS = ROOT / "events"
# Each account's Steward stack is named `steward` (the organisation package's default NamePrefix).
STATE_TABLE = "steward-state"
SCHEDULES_PARAMETER = "/steward/schedules"
PAUSE_PARAMETER = "/steward/pause"
CHANNEL = "C0DEMO00001"
ACCOUNT = "123456789012"  # pyairtable-dev's account, also the organisation's management account
TEAM2_CHANNEL = "C0TEAM20001"
TEAM2_CLUSTER = "team2-dev"
ORG_EXTERNAL_ID = "steward-org-4f9c2a"  # the README's
# The organisation package's default NamePrefix: role steward-org-read-<region>, parameter /steward/org-view.
ORG_PREFIX = "steward"
SCHEDULES = {
    "office-hours": {
        "timezone": "Europe/Berlin",
        "periods": [{"days": "mon-fri", "start": "07:00", "stop": "20:00"}],
        "holidays": ["2026-12-24", "2026-12-25", "2026-12-31"],
    },
    # The reporting database's team is away for a week: nothing starts it until Monday 7 December.
    "reporting": {
        "timezone": "Europe/Berlin",
        "periods": [{"days": "mon-fri", "start": "07:00", "stop": "20:00"}],
        "holidays": ["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"],
    },
}
REPORTS_DB = "pyairtable-dev-reports"
SPOT_STRATEGY = [
    {"capacityProvider": "FARGATE_SPOT", "base": 1, "weight": 3},
    {"capacityProvider": "FARGATE", "weight": 1},
]
DAILY_COST = {  # a dev platform of about $500 a month
    "llm-orchestrator": "4.90",
    "api-gateway": "2.60",
    "platform-services": "2.10",
    "airtable-gateway": "1.40",
    "frontend": "1.30",
    "automation-services": "1.10",
    "saga-orchestrator": "0.90",
    "mcp-server": "0.80",
    "": "0.65",
}


@dataclass(frozen=True)
class Step:
    at: str  # Berlin wall-clock label
    title: str
    function: str
    events: Callable[[], list[dict[str, Any]]]  # built when the step runs: some need what earlier steps created
    summary: Callable[[list[dict[str, Any]]], str]
    before: Callable[[], None] | None = None
    team2: bool = False  # runs as team2-dev's own Steward, in its own account
    run: Callable[[], list[dict[str, Any]]] | None = None  # instead of the handler: a `steward` command


def sample(relative: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / relative).read_text())
    return loaded


def tick(task: str, now: str) -> dict[str, Any]:
    return {"source": "steward.scheduler", "task": task, "now": now}


def retarget(event: dict[str, Any], **detail: Any) -> dict[str, Any]:
    """A sample event moved to the demo account's resources and the given detail fields."""
    text = json.dumps(event).replace("111122223333", ACCOUNT)
    moved: dict[str, Any] = json.loads(text)
    moved["detail"].update(detail)
    return moved


# ------------------------------------------------------------------------------------------ summaries


def names(results: list[dict[str, Any]], key: str) -> str:
    found = [s["service"].split("/")[-1] for r in results for s in r.get(key, [])]
    return ", ".join(found) or "none"


def off_hours_line(results: list[dict[str, Any]]) -> str:
    line = f"stopped: {names(results, 'stopped')} | started: {names(results, 'started')}"
    moved = {
        verb: [d["database"].split("/")[-1] for r in results for d in r.get("databases", {}).get(verb, [])]
        for verb in ("stopped", "started")
    }
    if moved["stopped"] or moved["started"]:
        line += f" | databases stopped: {', '.join(moved['stopped']) or 'none'}"
        line += f", started: {', '.join(moved['started']) or 'none'}"
    return line


def database_line(results: list[dict[str, Any]]) -> str:
    last = results[-1]
    if last.get("outcome") in ("noted", "already-noted", "not-held"):
        return f"{last['outcome']}: {last['database']}"
    return off_hours_line(results)


def services_line(results: list[dict[str, Any]]) -> str:
    outcomes: dict[str, int] = {}
    detail = ""
    for result in results:
        for service in result.get("services", []):
            outcomes[service["outcome"]] = outcomes.get(service["outcome"], 0) + 1
            if service["outcome"] in ("fell back", "shifted back"):
                detail = f" — {service['reason']}"
        if not result.get("services"):
            outcomes[result.get("outcome", "?")] = outcomes.get(result.get("outcome", "?"), 0) + 1
    return ", ".join(f"{count}× {outcome}" for outcome, count in outcomes.items()) + detail


def outcome_line(results: list[dict[str, Any]]) -> str:
    last = results[-1]
    return f"{last.get('outcome')}: {last.get('reason') or last.get('status') or ''}".strip()


def budget_line(results: list[dict[str, Any]]) -> str:
    record = results[-1]["records"][0]
    stopped = ", ".join(s.split("/")[-1] for s in record.get("stopped", [])) or "none"
    return f"{record['outcome']} at {record.get('threshold_percent')} % — stopped: {stopped} ({record.get('action')})"


def org_line(results: list[dict[str, Any]]) -> str:
    document = results[-1]
    # The management account is pyairtable-dev's; Organizations lists it under its own name.
    named = {ACCOUNT: "pyairtable-dev"}
    read = [
        f"{named.get(a['account'], a['name'])}: {len(a['held'])} held, {len(a['held_databases'])} DBs"
        for a in document["accounts"]
    ]
    return f"{len(document['accounts'])} accounts read ({'; '.join(read)}), {len(document['not_read'])} not read"


def digest_line(results: list[dict[str, Any]]) -> str:
    result = results[-1]
    total = money(Decimal(result["total"]), result["unit"])
    requests = result["cost_explorer_requests"]
    return f"posted: {total} yesterday, {result['services']} services, {requests} Cost Explorer requests"


# ------------------------------------------------------------------------------------------ the day


def day(ecs: EcsOverlay, revisions: dict[int, str]) -> list[Step]:
    deploy_id: dict[str, str] = {}

    def first_deploy() -> None:
        deploy_id["id"] = ecs.deploy(CLUSTER, "api-gateway", revisions[1], at=datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
        ecs.complete(CLUSTER, "api-gateway")

    def start_deploy() -> None:
        deploy_id["id"] = ecs.deploy(CLUSTER, "api-gateway", revisions[2], at=datetime(2026, 11, 27, 15, 0, tzinfo=UTC))

    def finish_deploy() -> None:
        ecs.complete(CLUSTER, "api-gateway")

    deployment = sample("deploy_rollback/DeploymentChanged--in-progress.json")

    def deploy_event(status: str, at: str) -> dict[str, Any]:
        name = {"IN_PROGRESS": "SERVICE_DEPLOYMENT_IN_PROGRESS", "COMPLETED": "SERVICE_DEPLOYMENT_COMPLETED"}[status]
        event = retarget(
            copy.deepcopy(deployment),
            eventName=name,
            deploymentId=deploy_id.get("id", ""),
            updatedAt=at,
            reason=f"ECS deployment {deploy_id.get('id', '')} {status.lower().replace('_', ' ')}.",
        )
        event["time"] = at
        return event

    wave = []
    for number in range(6):
        event = retarget(
            sample("spot_fallback/FargateSpotTaskStopped--spot-interruption.json"),
            taskArn=f"arn:aws:ecs:eu-central-1:{ACCOUNT}:task/{CLUSTER}/{number:032x}",
            version=2 + number % 2,
        )
        event["time"] = "2026-11-27T15:14:03Z"
        wave.append(event)
    alarm = retarget(sample("deploy_rollback/AlarmFired--service-metric.json"))
    alarm["detail"]["state"]["timestamp"] = "2026-11-27T15:21:04.331+0000"

    return [
        Step(
            "Thu 10:00",
            "api-gateway runs its current revision",
            "deploy_rollback",
            lambda: [
                deploy_event("IN_PROGRESS", "2026-11-26T09:00:00Z"),
                deploy_event("COMPLETED", "2026-11-26T09:05:00Z"),
            ],
            outcome_line,
            before=first_deploy,
        ),
        Step(
            "Fri 16:00",
            "api-gateway deploys a new revision",
            "deploy_rollback",
            lambda: [deploy_event("IN_PROGRESS", "2026-11-27T15:00:00Z")],
            outcome_line,
            before=start_deploy,
        ),
        Step(
            "Fri 16:06",
            "the deployment completes",
            "deploy_rollback",
            lambda: [deploy_event("COMPLETED", "2026-11-27T15:06:00Z")],
            outcome_line,
            before=finish_deploy,
        ),
        Step("Fri 16:14", "Spot interruption wave: 6 task events", "spot_fallback", lambda: wave, services_line),
        Step("Fri 16:21", "api-gateway 5xx alarm fires", "deploy_rollback", lambda: [alarm], outcome_line),
        Step(
            "Fri 17:05",
            "Spot quiet for 50 min: shift back",
            "spot_fallback",
            lambda: [tick("spot-shift-back", "2026-11-27T16:05:00Z")],
            services_line,
        ),
        Step(
            "Fri 18:02",
            "budget alert: dev at 80 %",
            "budget_alert",
            lambda: [sample("budget_alert/BudgetNotification--monthly-actual-80.json")],
            budget_line,
        ),
        Step(
            "Fri 20:00",
            "evening shutdown",
            "off_hours",
            lambda: [tick("off-hours-tick", "2026-11-27T19:00:00Z")],
            off_hours_line,
        ),
        Step(
            "Fri 20:00",
            "team2-dev's own Steward, in its account",
            "off_hours",
            lambda: [tick("off-hours-tick", "2026-11-27T19:00:00Z")],
            off_hours_line,
            team2=True,
        ),
        Step(
            "Fri 20:05",
            "steward org status, both accounts",
            "",
            lambda: [],
            org_line,
            run=org_status,
        ),
        Step(
            "Fri 20:10",
            "a duplicate tick changes nothing",
            "off_hours",
            lambda: [tick("off-hours-tick", "2026-11-27T19:10:00Z")],
            off_hours_line,
        ),
        Step(
            "Fri 22:05",
            "budget alert: dev at 100 %, action",
            "budget_alert",
            lambda: [sample("budget_alert/BudgetNotification--monthly-actual-100.json")],
            budget_line,
        ),
        Step(
            "Fri 23:00",
            "frontend's keep-awake expires",
            "off_hours",
            lambda: [tick("off-hours-tick", "2026-11-27T22:00:00Z")],
            off_hours_line,
        ),
        Step(
            "Fri 23:10",
            "the databases follow their last service",
            "off_hours",
            lambda: [tick("off-hours-tick", "2026-11-27T22:10:00Z")],
            off_hours_line,
        ),
        Step(
            "Mon 06:45",
            "the databases start ahead of the services",
            "off_hours",
            lambda: [tick("off-hours-tick", "2026-11-30T05:45:00Z")],
            off_hours_line,
        ),
        Step(
            "Mon 07:00",
            "morning start",
            "off_hours",
            lambda: [tick("off-hours-tick", "2026-11-30T06:00:00Z")],
            off_hours_line,
        ),
        Step(
            "Mon 07:00",
            "team2-dev's morning start",
            "off_hours",
            lambda: [tick("off-hours-tick", "2026-11-30T06:00:00Z")],
            off_hours_line,
            team2=True,
        ),
        Step(
            "Tue 07:00",
            "new budget period: held services return",
            "off_hours",
            lambda: [tick("off-hours-tick", "2026-12-01T06:00:00Z")],
            off_hours_line,
        ),
        Step(
            "Tue 07:30",
            "the morning cost digest (with November)",
            "cost_report",
            lambda: [tick("cost-digest", "2026-12-01T06:30:00Z")],
            digest_line,
        ),
        Step(
            "Fri 20:10",
            "a week on, AWS starts the reports DB",
            "off_hours",
            lambda: [rds_event("RDS-EVENT-0154", "2026-12-04T19:10:00Z")],
            database_line,
        ),
        Step(
            "Fri 20:19",
            "it has started: Steward stops it again",
            "off_hours",
            lambda: [rds_event("RDS-EVENT-0088", "2026-12-04T19:19:00Z")],
            database_line,
            before=lambda: boto3.client("rds").start_db_instance(DBInstanceIdentifier=REPORTS_DB),
        ),
    ]


def rds_event(event_id: str, at: str) -> dict[str, Any]:
    """The captured RDS-EVENT-0154 sample about the reporting database; RDS-EVENT-0088 (no public EventBridge
    capture) is derived from it with the event list's text, "DB instance started."."""
    event = retarget(sample("off_hours/DatabaseEvent--instance-auto-started.json"), EventID=event_id)
    arn = f"arn:aws:rds:eu-central-1:{ACCOUNT}:db:{REPORTS_DB}"
    event.update(time=at, resources=[arn], region="eu-central-1")
    event["detail"].update(SourceArn=arn, SourceIdentifier=REPORTS_DB, Date=at)
    if event_id == "RDS-EVENT-0088":
        event["detail"]["Message"] = "DB instance started."
    return event


# ------------------------------------------------------------------------------------------ setup


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
            "ACCOUNT_ID": ACCOUNT,  # as the template sets it (AWS::AccountId)
            "DRY_RUN": "false",
            "STATE_TABLE": STATE_TABLE,
            "SCHEDULES_PARAMETER": SCHEDULES_PARAMETER,
            "PAUSE_PARAMETER": PAUSE_PARAMETER,  # as the template sets it; the demo never pauses
            "SLACK_CHANNEL": CHANNEL,
            "SLACK_API_URL": slack.url,
            "BUDGET_ACTIONS": '{"dev-monthly": {"action": "stop", "selector": {"env": "dev"}}}',
        }
    )
    os.environ.pop("AWS_PROFILE", None)


# ------------------------------------------------------------------------------------------ a second account


class Team2:
    """team2-dev: an account of the organisation with its own Steward stack (its state table, schedules, Slack
    secret and channel), reached by the management account through the stack's org read role. moto serves a
    request in the account MOTO_ACCOUNT_ID names while it is set."""

    account = ""  # the id Organizations gave it (CreateAccount)
    secret_arn = ""

    @classmethod
    @contextmanager
    def inside(cls) -> Iterator[None]:
        """Run as team2-dev's stack: its account, its settings (read afresh, and again after)."""
        from steward.settings import load_settings

        environment = {
            "MOTO_ACCOUNT_ID": cls.account,
            "ACCOUNT_ID": cls.account,
            "SLACK_CHANNEL": TEAM2_CHANNEL,
            "SLACK_TOKEN_SECRET_ARN": cls.secret_arn,
            "BUDGET_ACTIONS": "{}",
        }
        saved = {name: os.environ.get(name) for name in environment}
        os.environ.update(environment)
        load_settings.cache_clear()
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            load_settings.cache_clear()


def org_stack(session: Any, management: str) -> None:
    """What a member stack deployed with OrgManagementAccountId/OrgExternalId adds: the org read role (its trust
    policy as template.yaml resolves it) and the /<stack>/org-view parameter."""
    from devtools.iam_check import moto_world

    world = moto_world(OrgManagementAccountId=management, OrgExternalId=ORG_EXTERNAL_ID, Environment="dev")
    resources = template()["Resources"]
    trust = world.resolve(resources["OrgReadRole"]["Properties"]["AssumeRolePolicyDocument"])
    role = f"{ORG_PREFIX}-org-read-eu-central-1"
    session.client("iam").create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    view = json.loads(world.resolve(resources["OrgViewParameter"]["Properties"]["Value"]))
    view.update(state_table=STATE_TABLE, schedules_parameter=SCHEDULES_PARAMETER, pause_parameter=PAUSE_PARAMETER)
    session.client("ssm").put_parameter(Name=f"/{ORG_PREFIX}/org-view", Type="String", Value=json.dumps(view))


def seed_team2() -> dict[str, dict[str, Any]]:
    """The organisation, and team2-dev's account with its stack and its own eight services."""
    organizations = boto3.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    status = organizations.create_account(Email="team2-dev@example.com", AccountName="team2-dev")
    Team2.account = status["CreateAccountStatus"]["AccountId"]
    with Team2.inside():
        session = boto3.session.Session()
        create_state_table(session.client("dynamodb"), STATE_TABLE)
        session.client("ssm").put_parameter(Name=SCHEDULES_PARAMETER, Type="String", Value=json.dumps(SCHEDULES))
        Team2.secret_arn = session.client("secretsmanager").create_secret(
            Name="steward/slack", SecretString='{"token": "xoxb-demo-team2-token"}'
        )["ARN"]
        org_stack(session, ACCOUNT)
        seed_reference_platform(session, cluster=TEAM2_CLUSTER)
        return service_sizes(session, TEAM2_CLUSTER)


def org_status() -> list[dict[str, Any]]:
    """`steward org status --json` from the management account, for both accounts; its text to
    demo-output/org-status.txt."""
    from steward.cli import main as steward

    arguments = ["org", "status", "--external-id", ORG_EXTERNAL_ID, "--name-prefix", ORG_PREFIX]
    arguments += ["--accounts", f"{ACCOUNT},{Team2.account}"]
    text, document = io.StringIO(), io.StringIO()
    steward(arguments, out=text)
    steward([*arguments, "--json"], out=document)
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "org-status.txt").write_text(text.getvalue())
    return [json.loads(document.getvalue())]


def seed(endpoint: str) -> tuple[dict[str, dict[str, Any]], dict[int, str]]:
    session = boto3.session.Session()
    create_state_table(session.client("dynamodb"), STATE_TABLE)
    session.client("ssm").put_parameter(Name=SCHEDULES_PARAMETER, Type="String", Value=json.dumps(SCHEDULES))
    org_stack(session, ACCOUNT)  # the management account runs Steward for pyairtable-dev too
    secret = session.client("secretsmanager").create_secret(
        Name="steward/slack", SecretString='{"token": "xoxb-demo-token"}'
    )
    os.environ["SLACK_TOKEN_SECRET_ARN"] = secret["ARN"]
    seed_reference_platform(session)
    seed_databases(session)
    create_database(session.client("rds"), REPORTS_DB, tags={"steward:schedule": "reporting"})
    ecs = session.client("ecs")
    arns = {
        s["serviceName"]: s["serviceArn"]
        for s in ecs.describe_services(cluster=CLUSTER, services=[s.name for s in REFERENCE_SERVICES[:10]])["services"]
    }
    ecs.tag_resource(
        resourceArn=arns["frontend"], tags=[{"key": "steward:keep-awake-until", "value": "2026-11-27T22:00:00Z"}]
    )
    ecs.tag_resource(resourceArn=arns["llm-orchestrator"], tags=[{"key": "steward:spot-fallback", "value": "on"}])
    ecs.untag_resource(resourceArn=arns["saga-orchestrator"], tagKeys=["steward:schedule"])  # runs around the clock
    revisions = {
        n: ecs.register_task_definition(
            family="api-gateway",
            cpu="512",
            memory="1024",
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            containerDefinitions=[{"name": "api", "image": f"api:{n}", "memory": 1024}],
        )["taskDefinition"]["taskDefinitionArn"]
        for n in (1, 2)
    }
    cloudwatch = session.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="api-gateway-5xx",
        Namespace="AWS/ECS",
        MetricName="CPUUtilization",
        Dimensions=[{"Name": "ClusterName", "Value": CLUSTER}, {"Name": "ServiceName", "Value": "api-gateway"}],
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=90,
        ComparisonOperator="GreaterThanThreshold",
    )
    for days_back in range(1, 8):
        stamp = datetime(2026, 12, 1, 6, 0, tzinfo=UTC) - timedelta(days=days_back)
        cloudwatch.put_metric_data(
            Namespace="AWS/ECS",
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": [
                        {"Name": "ClusterName", "Value": CLUSTER},
                        {"Name": "ServiceName", "Value": "mcp-server"},
                    ],
                    "Timestamp": stamp,
                    "Value": value,
                }
                for metric, value in (("CPUUtilization", 6.0), ("MemoryUtilization", 11.0))
            ],
        )
    session.client("budgets").create_budget(
        AccountId=ACCOUNT,
        Budget={
            "BudgetName": "dev-monthly",
            "BudgetLimit": {"Amount": "500", "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
        },
    )
    queue_costs(endpoint)
    return service_sizes(session), revisions


# How each service's day varies: what it keeps running at weekends (off-hours stops most of the platform), its own
# day-to-day noise, the month's events (a re-indexing batch on llm-orchestrator, a backfill on automation-services)
# and mcp-server's growth as teams adopt it.
WEEKEND_SHARE = {"frontend": 0.85, "api-gateway": 0.7, "saga-orchestrator": 1.0, "": 1.0}
SPIKES = {("llm-orchestrator", date(2026, 11, 25)): 2.6, ("automation-services", date(2026, 11, 29)): 3.1}


def day_cost(name: str, amount: str, number: int, day_: date) -> float:
    phase = sum(map(ord, name)) % 5
    noise = 1 + ((number * 7 + phase) % 5 - 2) / 15
    weekend = WEEKEND_SHARE.get(name, 0.45) if day_.weekday() >= 5 else 1.0
    growth = 0.5 + number / 29 if name == "mcp-server" else 1.0
    return float(amount) * noise * weekend * growth * SPIKES.get((name, day_), 1.0)


def queue_costs(endpoint: str) -> None:
    """30 days of Cost Explorer data for the digest, and the month's spend for the budget alerts' cost drivers."""
    days = [date(2026, 11, 1) + timedelta(days=n) for n in range(30)]
    # The budget alerts ask the same question twice (same period): moto answers both from the first result.
    groups = [
        {
            "Keys": [f"service${name}"],
            "Metrics": {"UnblendedCost": {"Amount": f"{float(amount) * 27:.2f}", "Unit": "USD"}},
        }
        for name, amount in DAILY_COST.items()
    ]
    results: list[dict[str, Any]] = [
        {
            "ResultsByTime": [
                {"TimePeriod": {"Start": "2026-11-01", "End": "2026-12-01"}, "Groups": groups, "Estimated": True}
            ]
        }
    ]
    daily = []
    for number, day_ in enumerate(days):
        groups = [
            {
                "Keys": [f"service${name}", "Amazon Elastic Container Service"],
                "Metrics": {"UnblendedCost": {"Amount": f"{day_cost(name, amount, number, day_):.4f}", "Unit": "USD"}},
            }
            for name, amount in DAILY_COST.items()
        ]
        daily.append(
            {
                "TimePeriod": {"Start": day_.isoformat(), "End": (day_ + timedelta(days=1)).isoformat()},
                "Groups": groups,
                "Estimated": day_ >= date(2026, 11, 29),
            }
        )
    results.append({"ResultsByTime": daily})
    request = urllib.request.Request(  # noqa: S310 - the local moto server, http only
        f"{endpoint}/moto-api/static/ce/cost-and-usage-results",
        method="POST",
        data=json.dumps({"results": results}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local moto server, http only
        response.read()


def answer_forecast(ce: Any) -> None:
    def respond(**kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("http://127.0.0.1/", 200, {}, None), {"Total": {"Amount": "402.15", "Unit": "USD"}}

    ce.meta.events.register("before-call.ce.GetCostForecast", respond)


@dataclass
class DayResult:
    morning: dict[str, dict[str, Any]]
    evening: dict[str, dict[str, Any]]
    lines: list[str]
    messages: list[Any]
    back_on_spot: bool
    databases: dict[str, str]  # each database's status at the end ('instance/ID' -> status)
    team2_morning: dict[str, dict[str, Any]] = field(default_factory=dict)
    team2_evening: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def not_restored(self) -> dict[str, tuple[Any, Any]]:
        found = {n: (s, self.evening.get(n)) for n, s in self.morning.items() if self.evening.get(n) != s}
        found.update(
            {
                f"{TEAM2_CLUSTER}/{n}": (s, self.team2_evening.get(n))
                for n, s in self.team2_morning.items()
                if self.team2_evening.get(n) != s
            }
        )
        return found


def run_day(echo: Callable[[str], None] = lambda line: None) -> DayResult:
    """Start moto and the Slack stand-in, seed the platform, replay the day; everything stops afterwards."""
    os.environ.setdefault("MOTO_ECS_SERVICE_RUNNING", "1000")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    lines: list[str] = []
    try:
        with SlackStandIn() as slack, ExitStack() as stack:
            configure(endpoint, slack)
            stack.enter_context(installed())  # after configure: it imports the handlers, which read the log level
            morning, revisions = seed(endpoint)
            team2_morning = seed_team2()
            from steward.runtime import shared_aws

            overlay = EcsOverlay(boto3.client("ecs"))
            overlay.set_strategy(CLUSTER, "llm-orchestrator", SPOT_STRATEGY)
            overlay.complete_updates = True
            shared_aws().use("ecs", overlay)
            answer_forecast(shared_aws().ce)
            echo(f"moto on {endpoint}, Slack stand-in on {slack.url}")
            echo("pyairtable-dev: " + ", ".join(f"{n}={s['desired']}" for n, s in morning.items()))
            context = LambdaContext(function_name="steward-demo")
            for number, step in enumerate(day(overlay, revisions), start=1):
                if step.before:
                    step.before()
                with Team2.inside() if step.team2 else nullcontext():
                    results = step.run() if step.run else run_handler(step, context)
                lines.append(f"{number:>2}. {step.at}  {step.title:<42} {step.summary(results)}")
                echo(lines[-1])
            with Team2.inside():
                team2_evening = service_sizes(boto3.session.Session(), TEAM2_CLUSTER)
            evening = service_sizes(boto3.session.Session())
            databases = database_states(boto3.session.Session())
            messages = list(slack.messages)
    finally:
        server.stop()
    back_on_spot = overlay.strategies.get((CLUSTER, "llm-orchestrator")) == [
        {"base": 0, "weight": 0, **i} for i in SPOT_STRATEGY
    ]
    return DayResult(morning, evening, lines, messages, back_on_spot, databases, team2_morning, team2_evening)


def run_handler(step: Step, context: LambdaContext) -> list[dict[str, Any]]:
    handler = importlib.import_module(f"steward.handlers.{step.function}").lambda_handler
    return [handler(event, context) for event in step.events()]


def main() -> int:
    started = time.monotonic()
    result = run_day(echo=lambda line: print(line, flush=True))
    OUTPUT.mkdir(exist_ok=True)
    page = OUTPUT / "slack.html"
    page.write_text(render_page(result.messages, title="Steward — a day on pyairtable-dev"))
    (OUTPUT / "slack.json").write_text(json.dumps([m.body for m in result.messages], indent=2, default=str))
    print(f"{len(result.messages)} Slack messages → {page.relative_to(ROOT)}")
    for name, (expected, actual) in result.not_restored.items():
        print(f"NOT RESTORED {name}: expected {expected}, found {actual}", file=sys.stderr)
    if not result.back_on_spot:
        print("llm-orchestrator is not back on its original Spot strategy", file=sys.stderr)
    expected = {**dict.fromkeys(result.databases, "available"), f"instance/{REPORTS_DB}": "stopped"}
    for key in sorted(key for key in expected if result.databases[key] != expected[key]):
        print(f"DATABASE {key}: expected {expected[key]}, found {result.databases[key]}", file=sys.stderr)
    if result.not_restored or not result.back_on_spot or result.databases != expected:
        return 1
    print(
        "every service is back at its morning size and strategy, every database up but the one on its holiday week "
        f"({time.monotonic() - started:.1f}s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
