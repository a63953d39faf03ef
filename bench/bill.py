"""What Steward itself costs per account-month at 10, 100 and 1,000 services: the request counts the bench measured
in the same run, the invocations template.yaml schedules, stated assumptions for event-driven runs, and a dated
public price list. Arithmetic only (Decimal, USD): `make bench` passes the measured figures in."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from devtools.template import template

ROOT = Path(__file__).resolve().parent.parent
D = Decimal
MILLION = D(1_000_000)

# ------------------------------------------------------------------------------------------ dated price list

PRICES_READ_ON = "2026-11-30"
PRICES_REGION = "us-east-1"  # every price below is us-east-1 (N. Virginia); other Regions differ


@dataclass(frozen=True)
class Price:
    usd: Decimal  # per `per` units
    per: Decimal
    unit: str
    free: Decimal  # units free per account and month (AWS Free Tier, always-free part); 0 when none
    source: str  # page read on PRICES_READ_ON; "third-party" where AWS's own page was not in the stored copy

    def cost(self, quantity: Decimal) -> Decimal:
        return quantity * self.usd / self.per


PRICES: dict[str, Price] = {
    "lambda-requests": Price(
        D("0.20"), MILLION, "requests", MILLION, "aws.amazon.com/lambda/pricing; 1M free: its free tier section"
    ),
    "lambda-gb-s": Price(
        D("0.0000133334"),
        D(1),
        "GB-s (Arm)",
        D(400_000),
        "third-party: cloudchipr.com/blog/aws-lambda-pricing (Arm, first tier, us-east-1); AWS's table renders by script",
    ),
    "scheduler": Price(
        D("1.00"), MILLION, "invocations", D(14_000_000), "third-party: cloudburn.io/blog/amazon-eventbridge-pricing"
    ),
    "cost-explorer": Price(
        D("0.01"), D(1), "requests", D(0), "AWS Cost Explorer FAQs: $0.01 a request, each page of a result one request"
    ),
    "getmetricdata": Price(
        D("0.01"),
        D(1000),
        "metrics requested",
        D(0),
        "third-party: CloudWatch pricing quoted in github.com/nishinoshake/aws-rough/issues/37; no free tier: "
        "AWS re:Post, 'GetMetricData or GetMetricStatistics'",
    ),
    "custom-metrics": Price(
        D("0.30"),
        D(1),
        "metric-months",
        D(10),
        "aws.amazon.com/cloudwatch/pricing (10 free); $0.30: AWS Well-Architected Labs citing that page; prorated by "
        "the hour, metered only when sent: CloudWatch User Guide, 'Analyzing, optimizing, and reducing CloudWatch costs'",
    ),
    "alarms": Price(
        D("0.10"),
        D(1),
        "standard alarm-months",
        D(10),
        "aws.amazon.com/cloudwatch/pricing (10 alarm metrics free); $0.10: third-party c3x.dev",
    ),
    "logs-ingestion": Price(
        D("0.50"),
        D(1),
        "GB ingested",
        D(5),
        "third-party: c3x.dev/blog/cloudwatch-logs-cost-optimization; 5 GB free (shared with storage): CloudWatch pricing",
    ),
    "logs-storage": Price(D("0.03"), D(1), "GB-months", D(0), "third-party: c3x.dev (Standard class storage)"),
    "dynamodb-writes": Price(
        D("0.625"), MILLION, "write request units", D(0), "third-party: airbyte.com (on-demand, after the Nov 2024 cut)"
    ),
    "dynamodb-reads": Price(
        D("0.125"), MILLION, "read request units", D(0), "third-party: airbyte.com (on-demand, after the Nov 2024 cut)"
    ),
    "secret": Price(
        D("0.40"), D(1), "secret-months", D(0), "aws.amazon.com/secrets-manager/pricing (its pricing examples)"
    ),
    "secret-requests": Price(
        D("0.05"), D(10_000), "API calls", D(0), "aws.amazon.com/secrets-manager/pricing (its pricing examples)"
    ),
    "kms-key": Price(
        D("1.00"),
        D(1),
        "key-months",
        D(0),
        "aws.amazon.com/kms/pricing: $1/month a key; with rotation each new backing key adds $1/month",
    ),
    "kms-requests": Price(
        D("0.03"),
        D(10_000),
        "requests",
        D(20_000),
        "20,000 free: aws.amazon.com/kms/pricing; $0.03: third-party wring.co",
    ),
    "sns-publishes": Price(
        D("0.50"), MILLION, "publishes", MILLION, "third-party: factualminds.com (SNS standard topics)"
    ),
}

# ------------------------------------------------------------------------------------------ the month's workload

HOURS_PER_MONTH = D(730)  # the month AWS's pricing examples use
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
WORKDAYS_PER_MONTH = DAYS_PER_MONTH * 5 / 7


@dataclass(frozen=True)
class Assumptions:
    """What the bench cannot measure: how often events happen, and how long AWS takes."""

    off_hours_minutes: int = 10  # OffHoursRate default, rate(10 minutes)
    full_reconciles_per_workday: int = 10  # `make bench`'s weekday of ticks: 10 of 144 (transitions included)
    full_reconciles_per_weekend_day: int = 4  # no edge: one every six hours
    shift_back_minutes: int = 5  # the ShiftBack schedule, rate(5 minutes)
    transitions_per_workday: int = (
        2  # the default office-hours schedule: one stop, one start (a start priced as a stop)
    )
    databases: int = 0  # the bench's platform has none: the Databases* counts are then never sent
    spot_interruptions_per_service: Decimal = Decimal("0.1")  # a month; each arrives twice (a duplicate signal)
    deployments_per_service: Decimal = Decimal(4)  # a month; each sends IN_PROGRESS and COMPLETED
    alarms_per_service: Decimal = Decimal(1)  # ALARM state changes a month, priced as a rollback
    budget_alerts: Decimal = Decimal(2)  # a month
    request_latency_ms: Decimal = Decimal(20)  # added to each request's moto time: moto answers in-process
    cold_start_seconds: Decimal = Decimal(
        "0.4"
    )  # billed on every invocation: an upper bound (bench cold start ≈ 0.36 s)
    writes_per_second: Decimal = Decimal(10)  # WRITES_PER_SECOND default: paces a transition's writes
    platform_log_bytes: int = 400  # START, END and REPORT lines of each invocation
    log_line_bytes: int = 400  # one structured Steward line (INFO and above; quiet ticks log DEBUG)
    emf_line_bytes: int = 450  # one Powertools metrics line
    held_record_bytes: int = 400  # one off-hours restore record, read back by each tick's Query
    off_schedule_share: Decimal = Decimal(103) / Decimal(168)  # office-hours is on 65 of 168 hours a week
    slack_secret_cache_seconds: int = 300  # adapters/slack.py TOKEN_CACHE_SECONDS


# ------------------------------------------------------------------------------------------ what the bench measured


@dataclass(frozen=True)
class Run:
    """One kind of invocation as the bench ran it: its requests by service.Operation, its wall time against moto."""

    calls: Mapping[str, int]
    seconds: float

    @property
    def requests(self) -> int:
        return sum(self.calls.values())

    def count(self, prefix: str) -> int:
        return sum(n for name, n in self.calls.items() if name.startswith(prefix))


@dataclass(frozen=True)
class Measured:
    """One platform size's runs, all from the same `make bench` run."""

    services: int
    quiet_tick: Run
    transition_tick: Run
    shift_back_tick: Run
    spot_signal: Run
    spot_duplicate: Run
    deployment_event: Run
    alarm: Run
    budget_alert: Run
    digest: Run  # GetMetricData not included: `digest_getmetricdata` adds it for the running services
    idle_tick: Run | None = None  # a tick with nothing due; None: every tick is priced as a full reconcile


@dataclass(frozen=True)
class Line:
    item: str
    price: str  # key of PRICES
    quantity: Decimal
    basis: str
    fixed: bool

    @property
    def usd(self) -> Decimal:
        return PRICES[self.price].cost(self.quantity)


@dataclass(frozen=True)
class Bill:
    services: int
    lines: list[Line]
    configuration: str = "defaults"

    @property
    def fixed(self) -> Decimal:
        return sum((line.usd for line in self.lines if line.fixed), D(0))

    @property
    def variable(self) -> Decimal:
        return sum((line.usd for line in self.lines if not line.fixed), D(0))

    @property
    def total(self) -> Decimal:
        return self.fixed + self.variable

    @property
    def free_tier(self) -> Decimal:
        """What the always-free tiers take off, each applied once per account to the sum of its lines."""
        quantities: dict[str, Decimal] = {}
        for line in self.lines:
            quantities[line.price] = quantities.get(line.price, D(0)) + line.quantity
        return sum(
            (PRICES[key].cost(min(quantity, PRICES[key].free)) for key, quantity in quantities.items()),
            D(0),
        )

    @property
    def total_with_free_tier(self) -> Decimal:
        return self.total - self.free_tier

    @property
    def dominant(self) -> Line:
        return max(self.lines, key=lambda line: line.usd)


# ------------------------------------------------------------------------------------------ the stack's fixed part


# The two configurations the bill prices: template.yaml's defaults, and the one a platform team would choose to
# keep Steward's fixed part small (an existing key costs this stack nothing; its owner pays for it once).
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "defaults": {},
    "lean": {
        "HealthAlarms": "dead-letters",
        "TopicKmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    },
}


@dataclass(frozen=True)
class Stack:
    """What template.yaml creates (or references) that is billed by the month, for one set of parameter values."""

    alarms: int
    kms_keys: int
    secrets: int  # the Slack token secret is the user's, but Steward is why it exists
    memory_mb: dict[str, int] = field(default_factory=dict)  # FunctionName suffix -> MemorySize
    parameters: Mapping[str, str] = field(default_factory=dict)  # the values that differ from the defaults


def stack(parameters: Mapping[str, str] = CONFIGURATIONS["defaults"]) -> Stack:
    """The alarms and keys template.yaml (and the stacks it nests) creates with these parameter values, its
    conditions resolved."""
    root = template()
    values = _parameter_values(root, parameters)
    alarms = kms_keys = 0
    for body in _created(root, values):
        if body["Type"] == "AWS::CloudWatch::Alarm":
            alarms += 1
        elif body["Type"] == "AWS::KMS::Key":
            kms_keys += 1
        elif body["Type"] == "AWS::CloudFormation::Stack":
            nested = template(Path(body["Properties"]["TemplateURL"]))
            passed = {name: _evaluate(value, values) for name, value in body["Properties"]["Parameters"].items()}
            nested_values = _parameter_values(nested, passed)
            alarms += sum(1 for r in _created(nested, nested_values) if r["Type"] == "AWS::CloudWatch::Alarm")
    default_memory = int(root["Globals"]["Function"]["MemorySize"])
    memory = {}
    for body in root["Resources"].values():
        if body["Type"] == "AWS::Serverless::Function":
            suffix = str(body["Properties"]["FunctionName"]["Fn::Sub"]).split("}-", 1)[1]
            memory[suffix] = int(body["Properties"].get("MemorySize", default_memory))
    return Stack(alarms=alarms, kms_keys=kms_keys, secrets=1, memory_mb=memory, parameters=dict(parameters))


def _parameter_values(body: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    declared = body.get("Parameters", {})
    unknown = set(given) - set(declared)
    if unknown:
        raise KeyError(f"not a parameter of the template: {sorted(unknown)}")
    return {name: str(spec.get("Default", "")) for name, spec in declared.items()} | dict(given)


def _created(body: Mapping[str, Any], values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The template's resources whose Condition holds for these parameter values."""
    conditions = body.get("Conditions", {})
    return [
        resource
        for resource in body["Resources"].values()
        if "Condition" not in resource or _evaluate(conditions[resource["Condition"]], values, conditions)
    ]


def _evaluate(value: Any, values: Mapping[str, Any], conditions: Mapping[str, Any] | None = None) -> Any:
    """A condition or a parameter value as CloudFormation resolves it: Ref to a parameter, Fn::Equals, Not, And, Or,
    Condition. Anything else stays as it is, and comparing it is an error rather than a silent False."""
    if not isinstance(value, dict) or len(value) != 1:
        return value
    [(name, argument)] = value.items()
    if name == "Ref":
        return values.get(argument, value)  # a pseudo parameter or a resource stays unresolved
    if name == "Condition" and conditions is not None:
        return _evaluate(conditions[argument], values, conditions)
    if name == "Fn::Equals":
        left, right = (_evaluate(item, values, conditions) for item in argument)
        if isinstance(left, dict) or isinstance(right, dict):
            raise ValueError(f"cannot evaluate {value} from parameter values alone")
        return str(left) == str(right)
    if name == "Fn::Not":
        return not _evaluate(argument[0], values, conditions)
    if name == "Fn::And":
        return all(_evaluate(item, values, conditions) for item in argument)
    if name == "Fn::Or":
        return any(_evaluate(item, values, conditions) for item in argument)
    return value


# The metrics each function emits (dimension: service, its POWERTOOLS_SERVICE_NAME) and the events that send them.
# A metric is billed for the hours it receives data (prorated by the hour), so each is priced by those hours:
# "stop-edge"/"start-edge": the hours of an off/on edge (the off-hours counts are sent only when not zero);
# "edge": either edge; "db-…": the same, only in a stack with databases; "digest": once a day; "spot"/"deploy"/
# "budget": with those events; "failure": only when something fails (not in a normal month). A unit test checks every
# add_metric name in the source is here.
METRIC_CADENCE = {
    "ServicesStopped": "stop-edge",
    "ServicesStarted": "start-edge",
    "ServicesSkipped": "edge",  # a service due for a change that is protected or kept awake: at an edge, at most
    "ServicesFailed": "failure",
    "ScheduleErrors": "failure",
    "CostExplorerRequests": "digest",
    "DigestsPosted": "digest",
    "DigestFailures": "failure",
    "SpotFallbacks": "spot",
    "SpotShiftBacks": "spot",
    "SpotFallbacksDeclined": "failure",
    "SpotFallbackFailures": "failure",
    "SpotShiftBackFailures": "failure",
    "DeploymentsRecorded": "deploy",
    "Rollbacks": "failure",
    "RollbacksDeclined": "failure",
    "ScalingAlarmsIgnored": "failure",
    "HealthAlarms": "failure",
    "BudgetAlerts": "budget",
    "BudgetActions": "failure",
    "BudgetPeriodUnknown": "failure",
    "BudgetStopFailures": "failure",
    "ClaimReleaseFailures": "failure",
    "UnreadableBudgetMessages": "failure",
    "RejectedEvents": "failure",
    "SlackFailures": "failure",
    "OutOfScope": "deploy",  # events about another stack's services: as often as the deployments, at most
    "InvalidTags": "failure",
    "RefusedBudgetActions": "failure",
    "BudgetSelectorMatchedNothing": "failure",
    "ServicesNotBack": "failure",  # a start that did not come back
    "PausedRuns": "failure",  # only while an operator has paused Steward
    "RestoredOnDelete": "failure",  # once, when the stack is deleted
    "DatabasesStopped": "db-stop-edge",
    "DatabasesStarted": "db-start-edge",
    "DatabasesFailed": "failure",
    "OrgDigestsPosted": "management-account",  # the org digest's own stack: not part of a member account's bill
}
NOT_BILLED = ("failure", "management-account")
FUNCTIONS = ("off-hours", "spot-fallback", "deploy-rollback", "budget-alert", "cost-report", "restore-on-delete")
# A workflow named apart from its function; the shift-back step is Spot fallback's (restore on delete sends its
# metrics once, when the stack goes); the shared digest steps are the digest's (the org digest's stack is elsewhere).
MODULE_OF = {"restore": "restore-on-delete", "shift_back": "spot-fallback", "daily_digest": "cost-report"}
ELSEWHERE = ("org-digest",)  # a function of another stack: its modules' metrics are not on this bill


def emitted_metrics(source: Path = ROOT / "functions" / "steward") -> set[tuple[str, str]]:
    """(function, metric name) for every add_metric in Steward's source and the off-hours tick's counts(): a
    workflow's metrics are its function's, the shared modules' (runtime, Slack) every function's; the organisation
    digest's are its own stack's in the management account (org-digest.yaml), not a member account's."""
    found: set[tuple[str, str]] = set()
    for path in source.rglob("*.py"):
        if MODULE_OF.get(path.stem, path.stem).replace("_", "-") in ELSEWHERE:
            continue
        text = path.read_text()
        names = set(re.findall(r'add_metric\(\s*name="(\w+)"', text))
        if path.parent.name == "reports" and path.stem == "off_hours":
            names.update(re.findall(r'"((?:Services|Databases)\w+)":', text))
        function = MODULE_OF.get(path.stem, path.stem).replace("_", "-")
        owners = [function] if function in FUNCTIONS else list(FUNCTIONS)
        found.update((owner, name) for owner in owners for name in names)
    return found


def metric_hours(cadence: str, events: Mapping[str, Decimal]) -> Decimal:
    """Hours in the month a metric receives data: at most every hour, at least one hour per event. A cadence the
    bill does not know is an error, never a free metric."""
    return min(HOURS_PER_MONTH, events[cadence])


# ------------------------------------------------------------------------------------------ the bill


def bill(measured: Measured, stack: Stack, metrics: set[tuple[str, str]], assume: Assumptions = Assumptions()) -> Bill:
    n = D(measured.services)
    ticks = HOURS_PER_MONTH * 60 / assume.off_hours_minutes
    transitions = WORKDAYS_PER_MONTH * assume.transitions_per_workday
    shift_backs = HOURS_PER_MONTH * 60 / assume.shift_back_minutes
    interruptions = n * assume.spot_interruptions_per_service
    deploy_events = n * assume.deployments_per_service * 2
    alarms = n * assume.alarms_per_service
    digests = DAYS_PER_MONTH
    # (function, invocations a month, the run measured for it)
    full = ticks
    if measured.idle_tick is not None:
        weekend_days = DAYS_PER_MONTH - WORKDAYS_PER_MONTH
        full = WORKDAYS_PER_MONTH * assume.full_reconciles_per_workday
        full += weekend_days * assume.full_reconciles_per_weekend_day
    runs: list[tuple[str, str, Decimal, Run]] = [
        ("off-hours", "idle tick", ticks - full, measured.idle_tick or measured.quiet_tick),
        ("off-hours", "quiet tick", full - transitions, measured.quiet_tick),
        ("off-hours", "transition tick", transitions, measured.transition_tick),
        ("spot-fallback", "shift-back tick", shift_backs, measured.shift_back_tick),
        ("spot-fallback", "Spot signal", interruptions, measured.spot_signal),
        ("spot-fallback", "duplicate signal", interruptions, measured.spot_duplicate),
        ("deploy-rollback", "deployment event", deploy_events, measured.deployment_event),
        ("deploy-rollback", "alarm", alarms, measured.alarm),
        ("budget-alert", "budget alert", assume.budget_alerts, measured.budget_alert),
        ("cost-report", "digest", digests, measured.digest),
    ]
    invocations = sum((count for _, _, count, _ in runs), D(0))
    lines = [
        Line(
            "Lambda requests",
            "lambda-requests",
            invocations,
            f"{invocations:,.0f} invocations ({ticks:,.0f} off-hours ticks, {shift_backs:,.0f} shift-back ticks, "
            f"{digests:.0f} digests, {interruptions * 2 + deploy_events + alarms + assume.budget_alerts:,.0f} events)",
            fixed=False,
        )
    ]
    gb_seconds = D(0)
    for function, _, count, run in runs:
        gb_seconds += count * duration(run, assume) * D(stack.memory_mb[function]) / 1024
    lines.append(
        Line(
            "Lambda GB-seconds",
            "lambda-gb-s",
            gb_seconds,
            f"{gb_seconds:,.0f} GB-s: (moto wall time + {assume.request_latency_ms} ms × requests + "
            f"{assume.cold_start_seconds} s start) × MemorySize, writes paced at {assume.writes_per_second}/s",
            fixed=False,
        )
    )
    lines.append(
        Line(
            "EventBridge Scheduler",
            "scheduler",
            ticks + shift_backs + digests,
            f"{ticks + shift_backs + digests:,.0f} scheduled invocations (AWS service events on the default bus: free)",
            fixed=False,
        )
    )
    ce = sum((count * run.count("ce.") for _, _, count, run in runs), D(0))
    lines.append(
        Line(
            "Cost Explorer requests",
            "cost-explorer",
            ce,
            f"{digests:.0f} digests × {measured.digest.count('ce.')} (pages + forecast) + "
            f"{assume.budget_alerts} budget alerts × {measured.budget_alert.count('ce.')}",
            fixed=False,
        )
    )
    metrics_requested = digests * 2 * n
    lines.append(
        Line(
            "GetMetricData",
            "getmetricdata",
            metrics_requested,
            f"{digests:.0f} digests × 2 metrics × {measured.services} running services "
            f"({math.ceil(2 * measured.services / 500)} request(s) of ≤ 500 metrics each)",
            fixed=False,
        )
    )
    writes = sum((count * writes_of(run) for _, _, count, run in runs), D(0))
    lines.append(
        Line(
            "DynamoDB writes",
            "dynamodb-writes",
            writes * 2,
            f"{writes:,.0f} Put/Update/DeleteItem × 2 (the by-record index takes each write too), items < 1 KB",
            fixed=False,
        )
    )
    held_query_units = D(math.ceil(measured.services * assume.held_record_bytes / 4096))
    reads = sum((count * reads_of(run) for _, _, count, run in runs), D(0))
    held_reads = ticks * assume.off_schedule_share * max(D(0), held_query_units - 1)
    lines.append(
        Line(
            "DynamoDB reads",
            "dynamodb-reads",
            reads + held_reads,
            f"{reads:,.0f} Query/GetItem of ≤ 4 KB + {held_reads:,.0f} for the restore records read back "
            f"off-schedule ({measured.services} × {assume.held_record_bytes} B)",
            fixed=False,
        )
    )
    posting = transitions + digests + deploy_events + interruptions + alarms + assume.budget_alerts
    secret_reads = min(posting, HOURS_PER_MONTH * 3600 / assume.slack_secret_cache_seconds * 5)
    lines.append(
        Line(
            "Secrets Manager GetSecretValue",
            "secret-requests",
            secret_reads,
            f"≤ one a Slack-posting invocation ({posting:,.0f}); the token is cached "
            f"{assume.slack_secret_cache_seconds} s per container",
            fixed=False,
        )
    )
    lines.append(
        Line(
            "KMS requests",
            "kms-requests",
            secret_reads + assume.budget_alerts * 2,
            "Decrypt per GetSecretValue with a customer key (SlackTokenKmsKeyArn) + the topic key per budget alert",
            fixed=False,
        )
    )
    lines.append(
        Line(
            "SNS publishes",
            "sns-publishes",
            assume.budget_alerts,
            "budget notifications (health alarms: none in a normal month); deliveries to Lambda",
            fixed=False,
        )
    )
    log_bytes = sum((count * log_bytes_of(label, run, n, assume) for _, label, count, run in runs), D(0))
    log_gb = log_bytes / D(1024**3)
    lines.append(
        Line(
            "CloudWatch Logs ingestion",
            "logs-ingestion",
            log_gb,
            f"{log_gb * 1024:,.1f} MB: {assume.platform_log_bytes} B platform lines a run, {assume.emf_line_bytes} B "
            f"metrics, {assume.log_line_bytes} B a logged action",
            fixed=False,
        )
    )
    lines.append(
        Line(
            "CloudWatch Logs storage",
            "logs-storage",
            log_gb,
            "30 days kept (LogRetentionDays default): about one month's ingestion, uncompressed",
            fixed=False,
        )
    )
    stop_edges = WORKDAYS_PER_MONTH * assume.transitions_per_workday / 2
    db_edges = stop_edges if assume.databases else D(0)
    events = {
        "tick": HOURS_PER_MONTH,
        "stop-edge": stop_edges,
        "start-edge": stop_edges,
        "edge": 2 * stop_edges,
        "db-stop-edge": db_edges,
        "db-start-edge": db_edges,
        "digest": digests,
        "spot": interruptions,
        "deploy": deploy_events,
        "budget": assume.budget_alerts,
    }
    metric_months = D(0)
    emitted = sorted((f, name) for f, name in metrics if METRIC_CADENCE.get(name, "failure") not in NOT_BILLED)
    for _, name in emitted:
        metric_months += metric_hours(METRIC_CADENCE[name], events) / HOURS_PER_MONTH
    kinds = (
        "dead letters" if stack.parameters.get("HealthAlarms") == "dead-letters" else "errors, throttles, dead letters"
    )
    key = (
        f"{stack.kms_keys} × TopicKey for the two SNS topics (year 1; +1 USD a month per yearly rotation)"
        if stack.kms_keys
        else "TopicKmsKeyArn: the account's existing key, billed once to its owner"
    )
    lines += [
        Line(
            "CloudWatch custom metrics",
            "custom-metrics",
            metric_months,
            f"{len(emitted)} metrics (name × function) in a month without failures, each for the hours it gets data: "
            f"the off-hours counts {stop_edges:.0f} edge hours each"
            + ("" if assume.databases else ", the databases' none (no databases)"),
            fixed=True,
        ),
        Line(
            "CloudWatch alarms",
            "alarms",
            D(stack.alarms),
            f"{stack.alarms} standard alarms ({kinds} × {len(stack.memory_mb)} functions)",
            fixed=True,
        ),
        Line("KMS key", "kms-key", D(stack.kms_keys), key, fixed=True),
        Line("Slack token secret", "secret", D(stack.secrets), "the user's secret, there for Steward", fixed=True),
    ]
    return Bill(measured.services, lines, configuration=_configuration_of(stack))


def duration(run: Run, assume: Assumptions) -> Decimal:
    """Billed seconds of one run: moto time plus AWS's latency per request, or the write pacing if longer."""
    working = D(str(run.seconds)) + assume.request_latency_ms / 1000 * run.requests
    paced = D(writes_to_ecs(run)) / assume.writes_per_second
    return assume.cold_start_seconds + max(working, paced)


def writes_to_ecs(run: Run) -> int:
    return run.calls.get("ecs.UpdateService", 0) + run.calls.get("application-autoscaling.RegisterScalableTarget", 0)


def writes_of(run: Run) -> int:
    return sum(run.calls.get(f"dynamodb.{op}", 0) for op in ("PutItem", "UpdateItem", "DeleteItem"))


def reads_of(run: Run) -> int:
    return sum(run.calls.get(f"dynamodb.{op}", 0) for op in ("Query", "GetItem"))


def log_bytes_of(label: str, run: Run, services: Decimal, assume: Assumptions) -> Decimal:
    """Platform lines always; an idle tick's one INFO line; a metrics line only when a count is not zero (a
    transition); one line per acted service or event."""
    size = D(assume.platform_log_bytes)
    if label == "idle tick":
        return size + assume.log_line_bytes
    if label == "quiet tick":
        return size
    if label == "transition tick":
        return size + assume.emf_line_bytes + services * assume.log_line_bytes
    if label == "shift-back tick":
        return size
    return size + assume.emf_line_bytes + 2 * assume.log_line_bytes


def digest_getmetricdata(run: Run, services: int) -> Run:
    """The digest run with the GetMetricData requests its right-sizing hints make for `services` running services
    (two queries each, 500 a request: adapters/costs.py); the bench's digest platform has no ECS services."""
    calls = dict(run.calls)
    calls["cloudwatch.GetMetricData"] = math.ceil(2 * services / 500)
    return Run(calls, run.seconds)


def digest_for(figures: Sequence[tuple[int, Run]], services: int, groups_per_page: int = 5000) -> Run:
    """The measured digest for `services`; for a size the bench did not run, the largest one measured with its Cost
    Explorer pages scaled by the bench's own page assumption (27 days × services groups, `groups_per_page` a page)."""
    measured = dict(figures)
    if services in measured:
        return digest_getmetricdata(measured[services], services)
    largest = max(measured)
    calls = dict(measured[largest].calls)
    calls["ce.GetCostAndUsage"] = math.ceil(27 * services / groups_per_page)
    return digest_getmetricdata(Run(calls, measured[largest].seconds * services / largest), services)


# ------------------------------------------------------------------------------------------ the README/bench table

GOAL_VARIABLE = D("1.00")
GOAL_TOTAL = D("3.00")
GOAL_SERVICES = 100

TRIMS = {
    "CloudWatch alarms": "HealthAlarms=dead-letters keeps one alarm a function, on its dead-letter queue: every "
    "invocation is asynchronous, so an event that fails after its retries or stays throttled past its hour ends there "
    "(errors and throttles stay in the logs); an account with free alarm metrics left pays nothing for the first 10",
    "CloudWatch custom metrics": "the off-hours counts are sent only when not zero, so they are billed for the edge "
    "hours alone; what is left are DeploymentsRecorded and the two functions' OutOfScope, priced as if every "
    "deployment event fell in an hour of its own (a whole metric-month each from about 92 services at 4 deployments a month) and "
    "as if every event were also another stack's: in an account whose services are all in one stack's scope "
    "OutOfScope is never sent",
    "KMS key": "TopicKmsKeyArn reuses the account's existing customer managed key (one for every Steward stack) "
    "instead of a key for this stack",
    "Slack token secret": "the user's secret, shared by every Steward stack in the account that posts with the same "
    "bot token",
    "Cost Explorer requests": "one query a day is already the floor: the digest's pages grow with services × days; a "
    "weekly digest or a shorter window would cut it, and the organisation digest moves it to the management account",
}

ORG_DIGEST = (
    "With the organisation digest, Cost Explorer requests leave the member accounts: one management-account query "
    "(grouped by LINKED_ACCOUNT and the cost tag, with its pages) and one forecast replace a query and a forecast in "
    "every account, so each member's variable part loses its largest item. The fixed part stays in every member "
    "account (alarms, key, metrics), and the management account pays once for the digest function, its Slack secret "
    "and the Cost Explorer pages for all accounts."
)


def usd(amount: Decimal) -> str:
    return f"{amount:,.2f}" if amount >= D("0.01") or amount == 0 else f"{amount:.4f}"


def _configuration_of(stack: Stack) -> str:
    named = [name for name, values in CONFIGURATIONS.items() if dict(stack.parameters) == values]
    return named[0] if named else ", ".join(f"{key}={value}" for key, value in sorted(stack.parameters.items()))


def priced(measured: Sequence[Measured], assume: Assumptions = Assumptions()) -> list[Bill]:
    """Every configuration's bill at every measured size: what `make bench` and the README show."""
    metrics = emitted_metrics()
    stacks = [stack(values) for values in CONFIGURATIONS.values()]
    return [bill(size, each, metrics, assume) for size in measured for each in stacks]


def section(bills: Sequence[Bill]) -> tuple[list[str], list[str]]:
    """The README-ready section and the goal's misses: the goal is missed when no configuration meets it."""
    assume = Assumptions()
    lean = ", ".join(f"{key}={value}" for key, value in CONFIGURATIONS["lean"].items())
    out = [
        "",
        f"## Steward's own bill per account-month (prices for {PRICES_REGION}, read {PRICES_READ_ON})",
        "",
        "Request counts from this run's ticks and runs against moto; durations are estimates (moto answers "
        f"in-process, so each request adds {assume.request_latency_ms} ms). Assumed a month and a service: "
        f"{assume.deployments_per_service} deployments, {assume.alarms_per_service} alarm, "
        f"{assume.spot_interruptions_per_service} Spot interruptions; {assume.budget_alerts} budget "
        f"alerts an account; {assume.databases} databases. USD at list price; the always-free tiers, applied once per "
        f"account, below the total. Two configurations: **defaults** (template.yaml's) and **lean** ({lean}: an "
        "existing key costs this stack nothing).",
    ]
    by_size: dict[int, list[Bill]] = {}
    for result in bills:
        by_size.setdefault(result.services, []).append(result)
    out += [
        "",
        *_table(
            ["services", "configuration", "fixed", "variable", "total (list price)", "free tiers to Steward"],
            [
                [
                    f"{size:,}",
                    each.configuration,
                    usd(each.fixed),
                    usd(each.variable),
                    usd(each.total),
                    usd(each.total_with_free_tier),
                ]
                for size, results in by_size.items()
                for each in results
            ],
            numbers=(2, 3, 4, 5),
        ),
    ]
    misses = []
    for size, results in by_size.items():
        names = [each.configuration for each in results]
        out += ["", f"**{size:,} services**", ""]
        rows = []
        for line in sorted(results[0].lines, key=lambda x: not x.fixed):
            amounts = [usd(_line(each, line.item).usd) for each in results]
            bases = [_line(each, line.item).basis for each in results]
            basis = bases[0] + "".join(
                f"; {name}: {b}" for name, b in zip(names[1:], bases[1:], strict=True) if b != bases[0]
            )
            rows.append([line.item, basis, *amounts])
        rows += [
            ["**fixed**", "", *(f"**{usd(each.fixed)}**" for each in results)],
            ["**variable**", "", *(f"**{usd(each.variable)}**" for each in results)],
            ["**total**", "list price", *(f"**{usd(each.total)}**" for each in results)],
            [
                "free tiers",
                "once per account, if nothing else in it uses them",
                *(f"−{usd(each.free_tier)}" for each in results),
            ],
            ["total, free tiers to Steward", "", *(usd(each.total_with_free_tier) for each in results)],
        ]
        out += _table(
            ["item", "basis", *(f"{name} USD/month" for name in names)], rows, numbers=tuple(range(2, 2 + len(names)))
        )
        if size != GOAL_SERVICES:
            continue
        met = [each for each in results if each.variable <= GOAL_VARIABLE and each.total <= GOAL_TOTAL]
        verdicts = "; ".join(
            f"{each.configuration} {'meets' if each in met else 'misses'} it (variable {usd(each.variable)}, total "
            f"{usd(each.total)}, {usd(each.total_with_free_tier)} with the free tiers to Steward)"
            for each in results
        )
        out += [
            "",
            f"Goal at {GOAL_SERVICES} services (variable ≤ {GOAL_VARIABLE}, total ≤ {GOAL_TOTAL} USD at list price): "
            f"**{'met by ' + ', '.join(each.configuration for each in met) if met else 'missed'}**. {verdicts}.",
        ]
        if not met:
            misses.append(
                f"Steward's bill at {GOAL_SERVICES} services: no configuration has variable ≤ {GOAL_VARIABLE} and "
                f"total ≤ {GOAL_TOTAL} USD at list price ({verdicts})"
            )
        for each in results:
            dominant = each.dominant
            out.append(
                f"Dominating item: **{dominant.item}** ({usd(dominant.usd)} USD, {each.configuration}). How to trim it: "
                f"{TRIMS.get(dominant.item, 'see the table')}."
            )
        variable = [x for x in results[0].lines if not x.fixed]
        if variable:
            out.append(f"Largest variable item: {max(variable, key=lambda x: x.usd).item}.")
    out += ["", ORG_DIGEST, "", "Prices:", ""]
    out += _table(
        ["price", "USD", "per", "free a month", "source"],
        [
            [key, str(p.usd), f"{p.per:,} {p.unit}", f"{p.free:,}" if p.free else "—", p.source]
            for key, p in PRICES.items()
        ],
        numbers=(1, 3),
    )
    return out, misses


def _line(result: Bill, item: str) -> Line:
    return next(line for line in result.lines if line.item == item)


def _table(headers: list[str], rows: list[list[str]], numbers: tuple[int, ...] = (2,)) -> list[str]:
    align = ["---:" if i in numbers else "---" for i in range(len(headers))]
    return ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"] + [
        "| " + " | ".join(r) + " |" for r in rows
    ]


# ------------------------------------------------------------------------------------------ from `make bench`'s figures


def measure_shift_back() -> Run:
    """One shift-back tick with no Spot episode open: what runs every 5 minutes in a quiet month."""
    import time

    from devtools.lambda_context import LambdaContext

    from bench.requests import fresh
    from steward.handlers import spot_fallback

    tick = {"source": "steward.scheduler", "task": "spot-shift-back", "now": "2026-11-27T11:00:00Z"}
    with fresh() as aws:
        spot_fallback.lambda_handler(tick, LambdaContext(function_name="bench"))  # the first one imports
        aws.calls.clear()
        started = time.perf_counter()
        spot_fallback.lambda_handler(tick, LambdaContext(function_name="bench"))
        return Run(dict(aws.calls), time.perf_counter() - started)


def from_bench(ticks: Sequence[object], runs: Sequence[object], shift_back: Run) -> list[Measured]:
    """One Measured per off-hours size, from bench.off_hours TickFigures and bench.requests Figures."""

    def run(figure: object) -> Run:
        return Run(getattr(figure, "calls"), getattr(figure, "seconds"))  # noqa: B009

    by_scenario = {getattr(f, "scenario"): f for f in runs}  # noqa: B009
    digests = [(int(name.split()[2]), run(f)) for name, f in by_scenario.items() if name.startswith("Cost digest, ")]
    sizes = sorted({getattr(t, "services") for t in ticks})  # noqa: B009
    measured = []
    for size in sizes:
        tick = {getattr(t, "scenario"): t for t in ticks if getattr(t, "services") == size}  # noqa: B009
        measured.append(
            Measured(
                size,
                quiet_tick=run(tick["no transition"]),
                transition_tick=run(tick["all stop"]),
                shift_back_tick=shift_back,
                spot_signal=run(by_scenario["Spot fallback, first signal (before UpdateService)"]),
                spot_duplicate=run(by_scenario["Spot fallback, each duplicate signal"]),
                deployment_event=run(by_scenario["Deployment event recorded (mean of 4)"]),
                alarm=run(by_scenario["Rollback on an alarm (incl. UpdateService)"]),
                budget_alert=run(by_scenario["Budget alert (80 %, no action)"]),
                digest=digest_for(digests, size),
                idle_tick=run(tick["idle (nothing due)"]),
            )
        )
    return measured
