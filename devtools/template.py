"""template.yaml as plain data: CloudFormation short-form tags (!Ref, !Sub, …) become their long form."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _Loader(yaml.SafeLoader):
    pass


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    # Ref and Condition are the two intrinsics whose long form has no Fn:: prefix.
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_Loader.add_multi_constructor("!", _intrinsic)


@cache
def template(path: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml, or a template it nests (a TemplateURL relative to the project)."""
    return yaml.load((ROOT / path).read_text(), Loader=_Loader)  # noqa: S506 - SafeLoader subclass


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template()["Resources"].items() if body["Type"] == kind}


def functions() -> dict[str, dict[str, Any]]:
    return resources("AWS::Serverless::Function")


def create_state_table(client: Any, name: str) -> None:
    """The state table exactly as template.yaml declares it (keys, index, TTL)."""
    props = template()["Resources"]["StateTable"]["Properties"]
    client.create_table(
        TableName=name,
        BillingMode=props["BillingMode"],
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
    )
    client.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])


def function_environment(name: str) -> dict[str, Any]:
    globals_env = template()["Globals"]["Function"]["Environment"]["Variables"]
    own = functions()[name]["Properties"].get("Environment", {}).get("Variables", {})
    return {**globals_env, **own}
