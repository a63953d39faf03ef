"""`steward check`: the settings a deployment would give each function, checked before deploying.

The values come from a samconfig.toml environment's `parameter_overrides` (mapped to each function's environment
variables through template.yaml, as CloudFormation would) or from the environment variables themselves. Each function's
own settings model judges them, so the check and the function's cold start never disagree. Each problem names the
template parameter (and the variable) and says how to fix it. Reads only local files: no AWS call.
"""

from __future__ import annotations

import importlib
import re
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct
from pydantic import TypeAdapter, ValidationError

from steward.settings import Settings
from steward.settings.budget_alert import BudgetAction, refusal

# What Lambda and CloudFormation fill in: plausible stand-ins, so the settings models judge only what a team sets.
PSEUDO_PARAMETERS = {
    "AWS::AccountId": "123456789012",
    "AWS::Region": "eu-central-1",
    "AWS::StackName": "steward",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}
LAMBDA_SETS = {"AWS_REGION": "eu-central-1"}  # the runtime's own variables (Lambda Developer Guide, "Defined runtime
# environment variables"): never the team's to set
HANDLER = re.compile(r"^steward\.handlers\.(\w+)\.lambda_handler$")
SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")


class CheckError(Exception):
    """The check could not run (a missing file, an unknown environment): a usage error, not a settings problem."""


class Problem(Struct, frozen=True):
    where: str  # "BudgetActions (BUDGET_ACTIONS)", a parameter, or a file
    what: str  # what is wrong and how to fix it

    def line(self) -> str:
        return f"{self.where}: {self.what}"


class Value(Struct, frozen=True):
    """An environment variable's value as deployed, and the template parameters it is made of."""

    text: str
    parameters: tuple[str, ...]


class Template(Struct, frozen=True):
    parameters: dict[str, dict[str, Any]]
    conditions: dict[str, Any]
    functions: dict[str, tuple[str, dict[str, Any]]]  # logical id → (settings module name, environment variables)

    @classmethod
    def load(cls, path: Path) -> Template:
        body = _yaml(path)
        defaults = body.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        functions: dict[str, tuple[str, dict[str, Any]]] = {}
        for name, resource in body.get("Resources", {}).items():
            properties = resource.get("Properties", {}) if isinstance(resource, dict) else {}
            handler = HANDLER.match(str(properties.get("Handler", "")))
            if resource.get("Type") == "AWS::Serverless::Function" and handler:
                own = properties.get("Environment", {}).get("Variables", {})
                functions[name] = (handler.group(1), {**defaults, **own})
        return cls(body.get("Parameters", {}), body.get("Conditions", {}), functions)

    def parameter_of(self, variable: str) -> str | None:
        """The parameter a variable is set from (`!Ref Parameter`), in any function."""
        for _, variables in self.functions.values():
            value = variables.get(variable)
            if isinstance(value, dict) and value.get("Ref") in self.parameters:
                return str(value["Ref"])
        return None

    def fix(self, parameter: str) -> str:
        """The template's own words for a good value: its ConstraintDescription, else its Description."""
        spec = self.parameters.get(parameter, {})
        if spec.get("AllowedValues"):
            return "one of " + ", ".join(str(value) for value in spec["AllowedValues"])
        return str(spec.get("ConstraintDescription") or spec.get("Description") or "see template.yaml")


# ------------------------------------------------------------------------------------------ where the values are


def samconfig_overrides(path: Path, environment: str) -> dict[str, str]:
    """`parameter_overrides` of one samconfig.toml environment (its deploy command's, over its global ones)."""
    try:
        config = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise CheckError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise CheckError(f"{path}: cannot read it ({error})") from None
    if not isinstance(config.get(environment), dict):
        known = ", ".join(name for name, value in config.items() if isinstance(value, dict))
        raise CheckError(f"{path} has no [{environment}] environment (it has: {known or 'none'})")
    overrides: dict[str, str] = {}
    for command in ("global", "deploy"):
        text = config[environment].get(command, {}).get("parameters", {}).get("parameter_overrides", "")
        overrides.update(_overrides(text))
    return overrides


def _overrides(text: str | list[str]) -> dict[str, str]:
    """'Key=Value Key2='a b'' (or a list of such), as SAM CLI reads parameter_overrides."""
    words = [word for item in ([text] if isinstance(text, str) else text) for word in shlex.split(str(item))]
    pairs: dict[str, str] = {}
    for word in words:
        long_form = re.match(r"^ParameterKey=([^,]+),ParameterValue=(.*)$", word)
        key, _, value = (long_form.group(1), "=", long_form.group(2)) if long_form else word.partition("=")
        pairs[key] = value
    return pairs


def _yaml(path: Path) -> dict[str, Any]:
    import yaml  # type: ignore[import-untyped]  # a developer tool's dependency: never loaded by a function

    loader_class: Any = type("TemplateLoader", (yaml.SafeLoader,), {})  # short-form tags (!Ref, …) as long form

    def intrinsic(loader: Any, suffix: str, node: Any) -> dict[str, Any]:
        name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            value = str(value).split(".", 1) if suffix == "GetAtt" else value
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    loader_class.add_multi_constructor("!", intrinsic)
    try:
        body = yaml.load(path.read_text(), Loader=loader_class)  # noqa: S506 - a SafeLoader subclass
    except FileNotFoundError:
        raise CheckError(f"{path}: no such file") from None
    except (OSError, yaml.YAMLError) as error:
        raise CheckError(f"{path}: cannot read it ({error})") from None
    if not isinstance(body, dict):
        raise CheckError(f"{path}: not a template")
    return body


# ------------------------------------------------------------------------------------------ the check


def check_parameters(template: Template, overrides: Mapping[str, str]) -> tuple[dict[str, str], list[Problem]]:
    """Each parameter's deployed value, and what CloudFormation would refuse (checked here, before a change set)."""
    problems = [
        Problem(name, "not a parameter of the template (sam deploy refuses it); remove it or check its spelling")
        for name in overrides
        if name not in template.parameters
    ]
    values: dict[str, str] = {}
    for name, spec in template.parameters.items():
        if name in overrides:
            values[name] = overrides[name]
        elif "Default" in spec:
            values[name] = str(spec["Default"])
        else:
            problems.append(Problem(name, f"no value and no default; add {name}=… to parameter_overrides"))
            continue
        wrong = _refused(spec, values[name])
        if wrong:
            problems.append(Problem(name, f"{wrong}; expected {template.fix(name)}"))
    return values, problems


def _refused(spec: Mapping[str, Any], value: str) -> str:
    """Why CloudFormation would refuse the value (AllowedValues, AllowedPattern, MinValue/MaxValue), or ""."""
    allowed = spec.get("AllowedValues")
    if allowed and value not in [str(option) for option in allowed]:
        return f"{value!r} is not allowed"
    pattern = spec.get("AllowedPattern")
    if pattern and not re.fullmatch(str(pattern), value):
        return f"{value!r} does not match the parameter's pattern"
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return f"{value!r} is not a number"
        low, high = spec.get("MinValue"), spec.get("MaxValue")
        if (low is not None and number < float(low)) or (high is not None and number > float(high)):
            return f"{value} is out of range"
    return ""


def deployed_environment(
    template: Template, variables: Mapping[str, Any], values: Mapping[str, str]
) -> dict[str, Value]:
    """A function's environment as CloudFormation would set it; variables it cannot work out are left unset."""
    resolved: dict[str, Value] = {}
    for variable, raw in variables.items():
        value = _resolve(template, raw, values)
        if value is not None:
            resolved[variable] = value
    return resolved


def _resolve(template: Template, raw: Any, values: Mapping[str, str]) -> Value | None:
    if isinstance(raw, bool):
        raw = "true" if raw else "false"
    if isinstance(raw, str | int | float):
        return Value(str(raw), ())
    if not isinstance(raw, dict) or len(raw) != 1:
        return None
    [(function, argument)] = raw.items()
    return _intrinsic(template, function, argument, values)


def _intrinsic(template: Template, function: str, argument: Any, values: Mapping[str, str]) -> Value | None:
    """Ref, Sub, If and GetAtt, the intrinsics a function's environment uses; None for any other."""
    if function == "Ref":
        return _ref(template, str(argument), values)
    if function == "Fn::Sub" and isinstance(argument, str):
        parts = {name: _ref(template, name, values) for name in SUB_NAME.findall(argument)}
        text = SUB_NAME.sub(lambda match: parts[match.group(1)].text, argument)
        return Value(text, tuple(name for part in parts.values() for name in part.parameters))
    if function == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
        chosen = argument[1] if _condition(template, {"Condition": argument[0]}, values) else argument[2]
        return _resolve(template, chosen, values)
    if function == "Fn::GetAtt":
        return Value("-".join(str(part) for part in argument) if isinstance(argument, list) else str(argument), ())
    return None


def _ref(template: Template, name: str, values: Mapping[str, str]) -> Value:
    if name in template.parameters:
        return Value(values.get(name, ""), (name,))
    # A resource's name or attribute is CloudFormation's to make: any well-formed stand-in will do.
    return Value(PSEUDO_PARAMETERS.get(name, f"steward-{name.replace('.', '-')}"), ())


def _condition(template: Template, expression: Any, values: Mapping[str, str]) -> bool:
    if not isinstance(expression, dict) or len(expression) != 1:
        return bool(expression)
    [(function, argument)] = expression.items()
    if function == "Condition":
        return _condition(template, template.conditions.get(str(argument)), values)
    items = argument if isinstance(argument, list) else [argument]
    if function == "Fn::Equals" and len(items) == 2:
        left, right = (_resolve(template, side, values) for side in items)
        return left is not None and right is not None and left.text == right.text
    combine = {"Fn::Not": lambda results: not all(results), "Fn::And": all, "Fn::Or": any}.get(function)
    return combine([_condition(template, item, values) for item in items]) if combine else False


def check_settings(
    template: Template, environments: Mapping[str, Mapping[str, Value]], reported: frozenset[str] = frozenset()
) -> list[Problem]:
    """Each function's settings model over its environment; one problem per variable and message, in order.
    A variable made of a parameter already `reported` as refused is not reported again."""
    problems: dict[tuple[str, str], Problem] = {}
    for function, environment in environments.items():
        module, _ = template.functions[function]
        environ = {**LAMBDA_SETS, **{name: value.text for name, value in environment.items()}}
        for variable, message in settings_problems(settings_model(module), environ):
            value = environment.get(variable)
            made_of = value.parameters if value else ()
            if reported.intersection(made_of):
                continue
            parameter = made_of[0] if made_of else template.parameter_of(variable)
            where = f"{parameter} ({variable})" if parameter else variable
            fix = f"; expected {template.fix(parameter)}" if parameter else ""
            problems.setdefault((where, message), Problem(where, message + fix))
        if "BUDGET_ACTIONS" in environ:
            where = f"{template.parameter_of('BUDGET_ACTIONS') or 'BudgetActions'} (BUDGET_ACTIONS)"
            for name, why in refused_actions(environ["BUDGET_ACTIONS"]).items():
                problems.setdefault((where, name), Problem(where, f"budget {name!r}: {why}"))
    return list(problems.values())


def refused_actions(document: str) -> dict[str, str]:
    """Budget name → why the budget alert function would refuse its action (judged on its own, so a problem in
    another parameter hides none); {} for a document the settings check already reports as unreadable."""
    try:
        actions = TypeAdapter(dict[str, BudgetAction]).validate_json(document or "{}")
    except ValidationError:
        return {}
    return {name: why for name, action in actions.items() if (why := refusal(name, action))}


def settings_model(module: str) -> type[Settings]:
    """The settings model a function's handler reads (`SETTINGS` in its handler module)."""
    model: type[Settings] = importlib.import_module(f"steward.handlers.{module}").SETTINGS
    return model


def settings_problems(model: type[Settings], environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """(variable, what is wrong) for each bad or missing variable, as the function's cold start would see them."""
    try:
        model.model_validate(dict(environ))
    except ValidationError as error:
        found = []
        for issue in error.errors():
            field = str(issue["loc"][0]) if issue["loc"] else "?"
            info = model.model_fields.get(field)
            variable = info.alias if info and info.alias else field
            message = "not set" if issue["type"] == "missing" else str(issue["msg"]).removeprefix("Value error, ")
            found.append((variable, message))
        return found
    return []


def check_schedules(where: str, document: str) -> list[Problem]:
    from steward.domain.schedules import ScheduleError, parse_schedules

    try:
        parse_schedules(document)
    except ScheduleError as error:
        return [Problem(where, f"{error}; see the README's Schedules section for the document's form")]
    return []


class Report(Struct, frozen=True):
    source: str  # what was checked, in words
    functions: int
    problems: list[Problem]


def check_samconfig(config: Path, environment: str, template_path: Path, schedules: Path | None) -> Report:
    template = Template.load(template_path)
    overrides = samconfig_overrides(config, environment)
    values, problems = check_parameters(template, overrides)
    bad = frozenset(problem.where for problem in problems)  # reported once, as a parameter CloudFormation refuses
    environments = {
        name: deployed_environment(template, variables, values) for name, (_, variables) in template.functions.items()
    }
    problems += check_settings(template, environments, bad)
    if "SchedulesDocument" in values and "SchedulesDocument" not in bad:
        problems += check_schedules("SchedulesDocument", values["SchedulesDocument"])
    problems += _schedules_file(schedules)
    return Report(f"{config} [{environment}] with {template_path}", len(template.functions), problems)


def check_environ(environ: Mapping[str, str], template_path: Path, schedules: Path | None) -> Report:
    template = Template.load(template_path)
    values = {name: Value(text, ()) for name, text in environ.items()}
    environments = {name: values for name in template.functions}
    problems = check_settings(template, environments) + _schedules_file(schedules)
    return Report(f"the environment variables, with {template_path}", len(template.functions), problems)


def _schedules_file(path: Path | None) -> list[Problem]:
    if path is None:
        return []
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise CheckError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CheckError(f"{path}: cannot read it ({error})") from None
    return check_schedules(str(path), text)
