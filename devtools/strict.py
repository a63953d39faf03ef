"""AWS's own request rules, which moto does not check, enforced on every AWS request in tests, the demo and the bench.

A request that real AWS would refuse is refused here, before moto sees it, with the error code AWS answers and its
message: a botocore ClientError, as from the real service. Installed once per process (`installed()`, or
`install()` under pytest's monkeypatch), the layer sees

- every botocore client's request (`BaseClient._make_api_call`), whoever made the client, and
- every call Steward makes on a stand-in handed to `AwsClients.use` (such as devtools.ecs_overlay.EcsOverlay), with
  exactly the parameters Steward sent, before the stand-in rewrites them.

Cluster capacity providers and a service's current strategy are read from moto's in-process backend (or from the
stand-in that keeps the strategy), never with a request, so request counts stay as Steward made them.

"Today" for Cost Explorer is the layer's clock: pinned by `layer.today = ...`, else the day of the event the
handler being invoked is processing (Steward's "now", SPEC §4), else the real UTC date.

Messages are AWS's, as captured in public reports where one was found (source in the comment); where none was
found the message states the documented rule and the comment says so.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from botocore.model import OperationModel, Shape
from moto.core.responses import ActionResult
from moto.organizations.responses import OrganizationsResponse
from moto.rds.responses import RDSResponse
from moto.resourcegroupstaggingapi.responses import ResourceGroupsTaggingAPIResponse

HANDLERS = ("off_hours", "spot_fallback", "deploy_rollback", "budget_alert", "cost_report", "org_digest")
MOTO_ACCOUNT = "123456789012"  # moto's default account, the one every test world uses


def _default_account() -> str:
    """The account moto serves a request in when nothing names one: MOTO_ACCOUNT_ID while a test sets it (a member
    account of the organisation tests), else moto's default."""
    return os.environ.get("MOTO_ACCOUNT_ID", MOTO_ACCOUNT)


# Services whose input validation answers AWS's generic "1 validation error detected" ValidationException.
MODEL_VALIDATED = frozenset({"application-autoscaling", "ce", "dynamodb", "ssm", "secretsmanager"})

Setattr = Callable[[Any, str, Any], None]
CurrentStrategy = Callable[[str, str], "list[dict[str, Any]] | None"]


def refusal(code: str, message: str, operation: str) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    return ClientError(response, operation)


@dataclass(frozen=True)
class Request:
    service: str
    operation: str
    params: Mapping[str, Any]
    region: str
    today: date
    model: OperationModel | None = None
    current_strategy: CurrentStrategy | None = None  # from a stand-in that keeps strategies moto drops
    access_key: str = ""  # the caller's, where the request came from a botocore client

    def refuse(self, code: str, message: str) -> ClientError:
        return refusal(code, message, self.operation)


Rule = Callable[[Request], None]


# ------------------------------------------------------------------------------------------ what moto knows


def _name(arn_or_name: str) -> str:
    return arn_or_name.rsplit("/", 1)[-1]


def _account(arn_or_name: str) -> str:
    parts = arn_or_name.split(":")
    return parts[4] if arn_or_name.startswith("arn:") and len(parts) > 4 else _default_account()


def _ecs_backend(cluster: str, region: str) -> Any:
    from moto.ecs.models import ecs_backends

    return ecs_backends[_account(cluster)][region]


def cluster_providers(cluster: str, region: str) -> list[str] | None:
    """The capacity providers associated with the cluster in moto; None when moto has no such cluster."""
    found = _ecs_backend(cluster, region).clusters.get(_name(cluster))
    return None if found is None else list(found.capacity_providers or [])


def moto_strategy(cluster: str, service: str, region: str) -> list[dict[str, Any]] | None:
    """moto keeps no service strategy: an existing service reads as on a launch type ([]); None when unknown."""
    services = _ecs_backend(cluster, region).services
    return [] if f"{_name(cluster)}:{_name(service)}" in services else None


# ------------------------------------------------------------------------------------------ ECS rules

STRATEGY_OPERATIONS = ("CreateService", "UpdateService", "RunTask")


def _strategy(request: Request) -> list[dict[str, Any]] | None:
    strategy = request.params.get("capacityProviderStrategy")
    return None if strategy is None else list(strategy)


def strategy_items(request: Request) -> None:
    """ECS API reference, CapacityProviderStrategyItem: weight 0..1,000, base 0..100,000, only one item with a base,
    at least one weight above zero when there are several, at most 20 providers."""
    strategy = _strategy(request)
    if strategy is None:
        return
    if request.params.get("launchType"):
        # Captured: terraform-linters/tflint-ruleset-aws#349.
        raise request.refuse(
            "InvalidParameterException",
            "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.",
        )
    # No captured response for the range and count rules: the messages state the API reference's rule.
    if len(strategy) > 20:
        raise request.refuse(
            "InvalidParameterException", "A capacity provider strategy can contain a maximum of 20 capacity providers."
        )
    for item in strategy:
        weight, base = int(item.get("weight", 0)), int(item.get("base", 0))
        if not 0 <= weight <= 1000:
            raise request.refuse(
                "InvalidParameterException",
                f"The weight value {weight} for capacity provider {item.get('capacityProvider')} is not valid. "
                "The valid range is 0 to 1000.",
            )
        if not 0 <= base <= 100000:
            raise request.refuse(
                "InvalidParameterException",
                f"The base value {base} for capacity provider {item.get('capacityProvider')} is not valid. "
                "The valid range is 0 to 100000.",
            )
    if sum(1 for item in strategy if int(item.get("base", 0)) > 0) > 1:
        raise request.refuse(
            "InvalidParameterException",
            "Only one capacity provider in a capacity provider strategy can have a base defined.",
        )
    if len(strategy) > 1 and all(int(item.get("weight", 0)) == 0 for item in strategy):
        # Worded after the captured default-strategy message (terraform-aws-modules/terraform-aws-ecs#27).
        raise request.refuse(
            "InvalidParameterException",
            "There are no capacity providers with a weight value greater than zero defined in the capacity provider "
            "strategy. At least one capacity provider must have a weight value greater than zero specified.",
        )


def providers_associated(request: Request) -> None:
    """A capacity provider must be associated with the cluster to be used in a strategy (ECS
    PutClusterCapacityProviders)."""
    strategy = _strategy(request)
    if not strategy:
        return
    associated = cluster_providers(str(request.params.get("cluster", "default")), request.region)
    if associated is None:
        return  # moto answers ClusterNotFoundException itself
    if any(item.get("capacityProvider") not in associated for item in strategy):
        # Captured: dask/dask-cloudprovider#328.
        raise request.refuse(
            "InvalidParameterException",
            "The specified capacity provider strategy cannot contain a capacity provider that is not associated with "
            "the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and "
            "try again.",
        )


def _normalised(strategy: Sequence[Mapping[str, Any]]) -> list[tuple[str, int, int]]:
    return sorted((str(i["capacityProvider"]), int(i.get("base", 0)), int(i.get("weight", 0))) for i in strategy)


def strategy_change_forces_deployment(request: Request) -> None:
    """UpdateService: a changed strategy "doesn't trigger a new service deployment" (ECS API reference), so ECS
    refuses the change without forceNewDeployment."""
    strategy = _strategy(request)
    if strategy is None or request.params.get("forceNewDeployment"):
        return
    cluster, service = str(request.params.get("cluster", "default")), str(request.params["service"])
    current = request.current_strategy(cluster, service) if request.current_strategy else None
    if current is None:
        current = moto_strategy(cluster, service, request.region)
    if current is None:
        return  # moto answers ServiceNotFoundException itself
    if _normalised(strategy) != _normalised(current):
        # Captured: kayac/ecspresso#481, reproio/ecs_deploy#74.
        raise request.refuse(
            "InvalidParameterException",
            "When switching from launch type to capacity provider strategy on an existing service, or making a change "
            "to a capacity provider strategy on a service that is already using one, you must force a new deployment.",
        )


def desired_count_not_negative(request: Request) -> None:
    count = request.params.get("desiredCount")
    if count is not None and int(count) < 0:
        # No captured response: the message states the rule (a count of tasks).
        raise request.refuse("InvalidParameterException", "desiredCount must be greater than or equal to 0.")


def at_most(parameter: str, limit: int, what: str) -> Rule:
    """ECS API reference: DescribeServices up to 10 services, DescribeTasks and DescribeContainerInstances up to 100,
    UpdateContainerInstancesState up to 10; the message names the list as ECS does."""

    def rule(request: Request) -> None:
        if len(request.params.get(parameter) or []) > limit:
            # Captured: remind101/empire#468 (service names), sil-org/ecs-deploy#266 (taskIds),
            # traefik/traefik#3625 (instanceIds).
            raise request.refuse("InvalidParameterException", f"{what} can have at most {limit} items.")

    return rule


def page_size(limit: int) -> Rule:
    """ECS List* maxResults: "This value can be between 1 and 100" (ECS API reference)."""

    def rule(request: Request) -> None:
        size = request.params.get("maxResults")
        if size is not None and not 1 <= int(size) <= limit:
            # No captured response: the message states the rule.
            raise request.refuse("InvalidParameterException", f"maxResults must be between 1 and {limit}.")

    return rule


# ------------------------------------------------------------------------------------------ Cost Explorer rules


def _period(request: Request) -> tuple[date, date, str, str]:
    period = request.params.get("TimePeriod") or {}
    start, end = str(period.get("Start", "")), str(period.get("End", ""))
    try:
        return date.fromisoformat(start[:10]), date.fromisoformat(end[:10]), start, end
    except ValueError as error:
        raise request.refuse("ValidationException", f"Invalid TimePeriod: {start} - {end}") from error


def first_of_next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def cost_and_usage_period(request: Request) -> None:
    """GetCostAndUsage: Start before End; End no later than the 1st of next month; Start no later than today
    (Cost Explorer API reference, DateInterval)."""
    start, end, _, _ = _period(request)
    if start >= end:
        # Captured: zoph-io/instance-watcher#18.
        raise request.refuse("ValidationException", "Start date (and hour) should be before end date (and hour)")
    if end > first_of_next_month(request.today):
        # Captured: aws/aws-sdk-js#2732.
        raise request.refuse("ValidationException", "end date past the beginning of next month")
    if start > request.today:
        # No captured response: the message states DateInterval's rule.
        raise request.refuse(
            "ValidationException", f"Start date {start.isoformat()} must be equal to or no later than the current date"
        )


def forecast_period(request: Request) -> None:
    """GetCostForecast: Start no earlier than today (UTC), End after Start (Cost Explorer API reference)."""
    start, end, raw_start, raw_end = _period(request)
    if start >= end:
        # Captured: zoph-io/instance-watcher#13.
        raise request.refuse(
            "ValidationException", f"Requested Start: {raw_start} must be before requested End: {raw_end}"
        )
    if start < request.today:
        # No captured response: the message states the rule.
        raise request.refuse(
            "ValidationException",
            f"Requested Start: {raw_start} must be equal to or later than the current date {request.today.isoformat()}",
        )


# ------------------------------------------------------------------------------------------ other services


def min_not_above_max(request: Request) -> None:
    low, high = request.params.get("MinCapacity"), request.params.get("MaxCapacity")
    if low is not None and high is not None and int(low) > int(high):
        # No captured response: the message states the rule (Application Auto Scaling RegisterScalableTarget).
        raise request.refuse("ValidationException", "Minimum capacity cannot be greater than maximum capacity")


EXPRESSIONS = ("ConditionExpression", "UpdateExpression", "KeyConditionExpression", "FilterExpression")
_VALUE_TOKEN = re.compile(r":[A-Za-z0-9_]+")


def _unused_values(request: Request, action: Mapping[str, Any]) -> None:
    values = set(action.get("ExpressionAttributeValues") or {})
    used = {token for key in EXPRESSIONS for token in _VALUE_TOKEN.findall(str(action.get(key) or ""))}
    unused = sorted(values - used)
    if unused:
        # Captured: awspilot/dynamodb-oop#29, kestra-io/plugin-aws#358 (moto checks only the names).
        raise request.refuse(
            "ValidationException",
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {" + ", ".join(unused) + "}",
        )


def expression_values_used(request: Request) -> None:
    if request.operation == "TransactWriteItems":
        for item in request.params.get("TransactItems") or []:
            for action in item.values():
                _unused_values(request, action)
    else:
        _unused_values(request, request.params)


def model_limits(request: Request) -> None:
    """The service model's maximum lengths and values, which botocore does not check on the client (it checks
    minimums only); AWS answers them with its generic validation message."""
    if request.model is None or request.service not in MODEL_VALIDATED or request.model.input_shape is None:
        return
    _check_shape(request, request.model.input_shape, request.params, "")


def _check_shape(request: Request, shape: Shape, value: Any, path: str) -> None:
    limit = shape.metadata.get("max")
    if shape.type_name == "structure" and isinstance(value, Mapping):
        members = shape.members  # type: ignore[attr-defined]
        for key, member in members.items():
            if key in value:
                name = key[:1].lower() + key[1:]
                _check_shape(request, member, value[key], f"{path}.{name}" if path else name)
        return
    if limit is None:
        return
    if shape.type_name in ("list", "string", "map") and len(value) > limit:
        shown = "[" + ", ".join(str(v) for v in value) + "]" if shape.type_name == "list" else str(value)
        constraint = f"Member must have length less than or equal to {limit}"
    elif shape.type_name in ("integer", "long", "double", "float") and value > limit:
        shown, constraint = str(value), f"Member must have value less than or equal to {limit}"
    else:
        return
    # The generic Coral validation message (captured, e.g. remind101/ssm-env#10).
    raise request.refuse(
        "ValidationException",
        f"1 validation error detected: Value '{shown}' at '{path}' failed to satisfy constraint: {constraint}",
    )


# ------------------------------------------------------------------------------------------ RDS rules


def rds_page_size(request: Request) -> None:
    """DescribeDBInstances / DescribeDBClusters MaxRecords: "Default: 100 Constraints: Minimum 20, maximum 100."
    (RDS API Reference)."""
    size = request.params.get("MaxRecords")
    if size is not None and not 20 <= int(size) <= 100:
        # No captured response: the message states the rule.
        raise request.refuse("InvalidParameterValue", "MaxRecords must be between 20 and 100.")


def _rds_backend(region: str) -> Any:
    from moto.rds.models import rds_backends

    return rds_backends[_default_account()][region]


def instance_can_stop(request: Request) -> None:
    """What moto stops that AWS refuses (RDS User Guide, "Limitations of stopping your DB instance"): an instance of
    an Aurora or Multi-AZ DB cluster, a read replica's source, RDS Custom. moto already refuses read replicas and
    Multi-AZ SQL Server."""
    identifier = str(request.params.get("DBInstanceIdentifier", ""))
    instance = _rds_backend(request.region).databases.get(identifier)
    if instance is None:
        return
    if getattr(instance, "db_cluster_identifier", None):
        # Captured (public CLI logs): stopping one Aurora instance.
        raise request.refuse(
            "InvalidParameterCombination", "aurora DB instances are not eligible for stopping and starting."
        )
    if getattr(instance, "replicas", None):
        # No captured response for a replica's source; the code moto uses for replicas, with the rule.
        raise request.refuse("InvalidDBInstanceState", "Cannot stop or start a DB instance that has read replicas.")
    if str(instance.engine).startswith("custom-"):
        raise request.refuse("InvalidParameterCombination", "RDS Custom DB instances are not stopped this way.")


def cluster_can_stop(request: Request) -> None:
    """What moto stops that AWS refuses (Aurora User Guide, "Limitations for stopping and starting Aurora DB
    clusters"; RDS API Reference, StopDBCluster: Aurora only): a Multi-AZ DB cluster, Aurora Serverless v1, a global
    database member, a replica cluster."""
    identifier = str(request.params.get("DBClusterIdentifier", ""))
    cluster = _rds_backend(request.region).clusters.get(identifier)
    if cluster is None:
        return
    engine, mode = str(cluster.engine), str(getattr(cluster, "engine_mode", "provisioned") or "provisioned")
    # No captured responses for these refusals; InvalidDBClusterStateFault is the code StopDBCluster documents.
    if not engine.startswith("aurora"):
        raise request.refuse("InvalidDBClusterStateFault", "StopDBCluster applies to Aurora DB clusters only.")
    if mode == "serverless":
        raise request.refuse("InvalidDBClusterStateFault", "Aurora Serverless v1 DB clusters cannot be stopped.")
    if getattr(cluster, "global_cluster_identifier", None) or getattr(cluster, "replication_source_identifier", None):
        raise request.refuse("InvalidDBClusterStateFault", "This DB cluster cannot be stopped: it has a replica role.")


def _caller(access_key: str) -> tuple[str, str]:
    """(account, principal ARN) moto serves for an access key: an assumed role's session, else its default user."""
    from moto.iam.models import get_account_id_from
    from moto.sts.models import sts_backends

    account = get_account_id_from(access_key)
    assumed = sts_backends[account]["global"].get_assumed_role_from_access_key(access_key)
    return account, assumed.arn if assumed is not None else f"arn:aws:iam::{account}:user/moto"


def _trust_allows(statement: Mapping[str, Any], caller_account: str, caller_arn: str, external_id: Any) -> bool:
    """One trust policy statement letting this caller assume the role: Allow, sts:AssumeRole, the caller's account
    (its root or id) or the caller's own ARN as AWS principal, and no condition or only sts:ExternalId, which must
    match. Any other condition is not evaluated here, so it does not grant. The caller's own identity policy, which
    AWS also requires for a cross-account AssumeRole, is not modelled (moto's users may do anything)."""
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else actions
    principals = statement.get("Principal", {})
    aws = principals.get("AWS", []) if isinstance(principals, Mapping) else principals
    aws = [aws] if isinstance(aws, str) else aws
    if statement.get("Effect") != "Allow" or not {"sts:AssumeRole", "sts:*", "*"} & set(actions):
        return False
    if not {f"arn:aws:iam::{caller_account}:root", caller_account, caller_arn, "*"} & set(aws):
        return False
    conditions = statement.get("Condition", {})
    if not conditions:
        return True
    if any(operator != "StringEquals" or set(keys) != {"sts:ExternalId"} for operator, keys in conditions.items()):
        return False
    expected = conditions.get("StringEquals", {}).get("sts:ExternalId")
    allowed = expected if isinstance(expected, list) else [expected]
    return external_id is not None and external_id in allowed


def role_trusts_caller(request: Request) -> None:
    """AWS lets a caller assume a role only if the role exists and its trust policy names the caller (with the
    external id its condition asks for); moto answers every AssumeRole. The refusal is AWS's AccessDenied, worded as
    public captures show it (github.com/amzn/selling-partner-api-docs/issues/564)."""
    from urllib.parse import unquote

    from moto.iam.models import iam_backends

    role_arn = str(request.params["RoleArn"])
    account, name = _account(role_arn), _name(role_arn)
    caller_account, caller_arn = _caller(request.access_key)
    role = next((r for r in iam_backends[account]["aws"].roles.values() if r.name == name), None)
    document = json.loads(unquote(role.assume_role_policy_document)) if role is not None else {}
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, Mapping) else statements
    external_id = request.params.get("ExternalId")
    if not any(_trust_allows(s, caller_account, caller_arn, external_id) for s in statements):
        raise request.refuse(
            "AccessDenied", f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        )


RULES: dict[tuple[str, str], tuple[Rule, ...]] = {
    ("sts", "AssumeRole"): (role_trusts_caller,),
    ("rds", "DescribeDBInstances"): (rds_page_size,),
    ("rds", "DescribeDBClusters"): (rds_page_size,),
    ("rds", "StopDBInstance"): (instance_can_stop,),
    ("rds", "StopDBCluster"): (cluster_can_stop,),
    ("ecs", "CreateService"): (strategy_items, providers_associated, desired_count_not_negative),
    ("ecs", "RunTask"): (strategy_items, providers_associated),
    ("ecs", "UpdateService"): (
        strategy_items,
        providers_associated,
        strategy_change_forces_deployment,
        desired_count_not_negative,
    ),
    ("ecs", "DescribeServices"): (at_most("services", 10, "service names"),),
    ("ecs", "DescribeTasks"): (at_most("tasks", 100, "taskIds"),),
    ("ecs", "DescribeContainerInstances"): (at_most("containerInstances", 100, "instanceIds"),),
    ("ecs", "UpdateContainerInstancesState"): (at_most("containerInstances", 10, "instanceIds"),),
    ("ecs", "ListServices"): (page_size(100),),
    ("ecs", "ListTasks"): (page_size(100),),
    ("ecs", "ListContainerInstances"): (page_size(100),),
    ("ce", "GetCostAndUsage"): (cost_and_usage_period,),
    ("ce", "GetCostForecast"): (forecast_period,),
    ("application-autoscaling", "RegisterScalableTarget"): (min_not_above_max,),
    ("dynamodb", "PutItem"): (expression_values_used,),
    ("dynamodb", "UpdateItem"): (expression_values_used,),
    ("dynamodb", "DeleteItem"): (expression_values_used,),
    ("dynamodb", "Query"): (expression_values_used,),
    ("dynamodb", "Scan"): (expression_values_used,),
    ("dynamodb", "TransactWriteItems"): (expression_values_used,),
}


# ------------------------------------------------------------------------------------------ the layer


def event_day(event: Any) -> date | None:
    """The UTC day of an event's own time (EventBridge `time`, scheduler `now`, SNS `Timestamp`), if it has one."""
    if not isinstance(event, Mapping):
        return None
    stamp = event.get("time") or event.get("now")
    if not stamp:
        try:
            stamp = event["Records"][0]["Sns"]["Timestamp"]
        except (KeyError, IndexError, TypeError):
            return None
    try:
        moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date()


class StrictAws:
    """The rules and the clock. `refusals` lists every request refused, as 'service.Operation: message'."""

    def __init__(self, today: date | None = None) -> None:
        self._pinned = today
        self.event_day: date | None = None
        self.refusals: list[str] = []
        self._lock = threading.Lock()

    @property
    def today(self) -> date:
        return self._pinned or self.event_day or datetime.now(UTC).date()

    @today.setter
    def today(self, day: date | None) -> None:
        self._pinned = day

    def check(
        self,
        service: str,
        operation: str,
        params: Mapping[str, Any],
        *,
        region: str,
        model: OperationModel | None = None,
        current_strategy: CurrentStrategy | None = None,
        access_key: str = "",
    ) -> None:
        """Raise the ClientError AWS would answer if the request breaks one of its rules."""
        rules = RULES.get((service, operation), ())
        if not rules and service not in MODEL_VALIDATED:
            return
        request = Request(service, operation, params, region, self.today, model, current_strategy, access_key)
        try:
            for rule in (*rules, model_limits):
                rule(request)
        except ClientError as error:
            with self._lock:
                self.refusals.append(f"{service}.{operation}: {error.response['Error']['Message']}")
            raise


class StrictStandIn:
    """A stand-in for a boto3 client (e.g. EcsOverlay), checked with the parameters its caller sent."""

    def __init__(self, stand_in: Any, service: str, layer: StrictAws) -> None:
        self._stand_in = stand_in
        self._service = service
        self._layer = layer
        meta = getattr(stand_in, "meta", None)
        self._operations: dict[str, str] = dict(getattr(meta, "method_to_api_mapping", {}) or {})
        self._region = str(getattr(meta, "region_name", "") or "")

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._stand_in, name)
        operation = self._operations.get(name)
        if operation is None or not callable(attribute):
            return attribute
        current = getattr(self._stand_in, "current_strategy", None)

        def checked(**kwargs: Any) -> Any:
            model = self._stand_in.meta.service_model.operation_model(operation)
            self._layer.check(
                self._service, operation, kwargs, region=self._region, model=model, current_strategy=current
            )
            return attribute(**kwargs)

        return checked


_active: StrictAws | None = None


def install(layer: StrictAws, setattr: Setattr) -> StrictAws:
    """Put `layer` in front of every AWS request and every handler invocation, through `setattr` (pytest's
    monkeypatch.setattr, which undoes it; or `installed()`'s own)."""
    from steward.adapters.aws import AwsClients

    original_call = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private to botocore's stubs
    original_use = AwsClients.use

    def strict_call(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        meta = client.meta
        credentials = getattr(client, "_request_signer", None) and client._request_signer._credentials
        layer.check(
            meta.service_model.service_name,
            operation_name,
            api_params,
            region=meta.region_name,
            model=meta.service_model.operation_model(operation_name),
            access_key=getattr(credentials, "access_key", "") or "",
        )
        return original_call(client, operation_name, api_params)

    def strict_use(aws: AwsClients, service: str, client: Any) -> None:
        original_use(
            aws, service, client if isinstance(client, StrictStandIn) else StrictStandIn(client, service, layer)
        )

    setattr(BaseClient, "_make_api_call", strict_call)
    setattr(AwsClients, "use", strict_use)
    setattr(RDSResponse, "describe_db_clusters", _paged_db_clusters)
    setattr(ResourceGroupsTaggingAPIResponse, "get_resources", _resources_per_page)
    setattr(OrganizationsResponse, "list_accounts", _accounts_per_page)
    for name in HANDLERS:
        try:
            module = importlib.import_module(f"steward.handlers.{name}")
        except ImportError:
            continue  # a handler that does not import fails its own tests; the others still get the layer
        setattr(module, "lambda_handler", _following(layer, module.lambda_handler))
    setattr(_this_module(), "_active", layer)
    return layer


def _paged_db_clusters(self: RDSResponse) -> ActionResult:
    """moto answers DescribeDBClusters in one page whatever MaxRecords says, where AWS pages at MaxRecords (at most
    100); paged as DescribeDBInstances already is, so request counts are those AWS would see."""
    clusters = list(
        self.backend.describe_db_clusters(
            db_cluster_identifier=self.params.get("DBClusterIdentifier"),
            filters={f["Name"]: f["Values"] for f in self.params.get("Filters", [])},
        )
    )
    start, size = int(self.params.get("Marker") or 0), int(self.params.get("MaxRecords") or 100)
    following = {"Marker": str(start + size)} if start + size < len(clusters) else {}
    return ActionResult({"DBClusters": clusters[start : start + size], **following})


def _resources_per_page(self: ResourceGroupsTaggingAPIResponse) -> ActionResult:
    """moto also cuts GetResources pages at 100 tags when the request sets no TagsPerPage; AWS applies TagsPerPage
    only when it is given ("AWS recommends using ResourcesPerPage instead of this parameter", GetResources), so a
    page holds ResourcesPerPage resources whatever their tags (at most 50 a resource)."""
    if self._get_param("TagsPerPage") is not None:
        return _moto_get_resources(self)
    token, resources = self.backend.get_resources(
        pagination_token=self._get_param("PaginationToken"),
        tag_filters=self._get_param("TagFilters", []),
        resources_per_page=self._get_int_param("ResourcesPerPage", 50),
        tags_per_page=100 * 50,
        resource_type_filters=self._get_param("ResourceTypeFilters", []),
        resource_arn_list=self._get_param("ResourceARNList", []),
    )
    mappings = [{"ResourceARN": r.arn, "Tags": [{"Key": k, "Value": v} for k, v in r.tags.items()]} for r in resources]
    return ActionResult({"ResourceTagMappingList": mappings, "PaginationToken": token})


_moto_get_resources = ResourceGroupsTaggingAPIResponse.get_resources


def _accounts_per_page(self: OrganizationsResponse) -> str:
    """moto pages ListAccounts at 100 accounts when MaxResults is not given; AWS returns at most 20 a page
    (Organizations API Reference, ListAccounts MaxResults), so a larger organisation takes several requests."""
    accounts, token = self.organizations_backend.list_accounts(
        max_results=self._get_int_param("MaxResults") or 20, next_token=self._get_param("NextToken")
    )
    return json.dumps({"Accounts": accounts, "NextToken": token})


def _following(layer: StrictAws, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """The handler, with the layer's day following the event it processes while it runs."""

    def invoke(event: Any, context: Any) -> Any:
        previous = layer.event_day
        layer.event_day = event_day(event) or previous
        try:
            return handler(event, context)
        finally:
            layer.event_day = previous

    invoke.__wrapped__ = handler  # type: ignore[attr-defined]
    return invoke


def _this_module() -> Any:
    import sys

    return sys.modules[__name__]


def active() -> StrictAws | None:
    return _active


@contextmanager
def installed(layer: StrictAws | None = None) -> Iterator[StrictAws]:
    """The layer for the duration of the block (the one already installed, if any), undone afterwards."""
    if _active is not None:
        yield _active
        return
    undo: list[tuple[Any, str, Any]] = []

    def setattr_(target: Any, name: str, value: Any) -> None:
        undo.append((target, name, target.__dict__[name] if name in target.__dict__ else getattr(target, name)))
        setattr(target, name, value)

    try:
        yield install(layer or StrictAws(), setattr_)
    finally:
        for target, name, value in reversed(undo):
            setattr(target, name, value)
