"""`make org-package`: template.yaml as one plain CloudFormation template for a service-managed StackSet.

StackSets run no transforms and no macros, so the template is expanded here: each nested function-health stack is
inlined, SAM's transform runs locally (samtranslator, with no AWS call), and every function's code and the layer
point at zips named by their content hash in a bucket per region (`${CodeBucketPrefix}-${AWS::Region}`). A StackSet
names each instance's stack StackSet-<set name>-<uuid>, too long for the names Steward derives from the stack name
(a Lambda function name is at most 64 characters), so the expanded template derives them from a NamePrefix
parameter instead.

Reads .aws-sam/build (`make build` first); writes .aws-sam/org/steward-org.json and the zips beside it. Offline.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import json
import re
import sys
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from devtools.template import ROOT, template

BUILD = ROOT / ".aws-sam" / "build"
OUT = ROOT / ".aws-sam" / "org"
TEMPLATE_NAME = "steward-org.json"
PLACEHOLDER_BUCKET = "steward-org-code-placeholder"
CODE_BUCKET = {"Fn::Sub": "${CodeBucketPrefix}-${AWS::Region}"}
# The longest name derived from NamePrefix is the org read role's, "<prefix>-org-read-<region>" (IAM role names are
# at most 64 characters; the longest region codes, such as ap-southeast-5, have 14): 64 - 10 - 14 = 40.
NAME_PREFIX_MAX = 40
LONGEST_REGION = "ap-southeast-5"
NEW_PARAMETERS = {
    "CodeBucketPrefix": {
        "Type": "String",
        # S3 bucket names: 3-63 lowercase letters, digits, dots and hyphens; the region is appended (S3 User Guide,
        # "General purpose bucket naming rules").
        "AllowedPattern": "^[a-z0-9][a-z0-9.-]{1,40}$",
        "ConstraintDescription": "lowercase letters, digits, dots and hyphens, 2 to 41 characters, starting with a "
        "letter or digit (e.g. acme-steward-code); the stack appends -<region>",
        "Description": "Steward's code is read from the bucket <CodeBucketPrefix>-<region> in each region, which the "
        "organisation can read (README: Rolling out to an organisation).",
    },
    "NamePrefix": {
        "Type": "String",
        "Default": "steward",
        "AllowedPattern": f"^[A-Za-z][A-Za-z0-9-]{{0,{NAME_PREFIX_MAX - 1}}}$",
        "ConstraintDescription": f"a letter, then letters, digits and hyphens, at most {NAME_PREFIX_MAX} characters "
        "(e.g. steward-dev); different for each Steward StackSet that reaches the same account",
        "Description": "Names the stack's functions, topics, schedules, alarms and SSM parameters (/<NamePrefix>/"
        "schedules, /<NamePrefix>/pause), as the stack name does in a single-account deploy.",
    },
}
# The read-only role gets a name the management account can derive. IAM role names are account-wide and a StackSet
# puts a stack in each region of an account, so the region is part of it: <NamePrefix>-org-read-<region>.
ORG_READ_ROLE_NAME = {"Fn::Sub": "${NamePrefix}-org-read-${AWS::Region}"}


class PackageError(Exception):
    """The template cannot be expanded as it stands (a construct this packager does not handle, or no build)."""


# ------------------------------------------------------------------------------------------ nested stacks


def inline_nested_stacks(sam: dict[str, Any], load: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """Each AWS::CloudFormation::Stack replaced by its template's resources, named <Stack><Resource>, and its
    conditions, named <Stack><Condition>; its parameters become the values the parent passes, and
    `!GetAtt <Stack>.Outputs.<Name>` becomes that output's value."""
    result = copy.deepcopy(sam)
    resources = result["Resources"]
    conditions = result.setdefault("Conditions", {})
    outputs: dict[str, dict[str, Any]] = {}
    for stack_id in [name for name, body in resources.items() if body["Type"] == "AWS::CloudFormation::Stack"]:
        stack = resources.pop(stack_id)
        nested = load(stack["Properties"]["TemplateURL"])
        unsupported = sorted(
            set(nested)
            - {"AWSTemplateFormatVersion", "Description", "Parameters", "Conditions", "Resources", "Outputs"}
        )
        if unsupported or set(stack) - {"Type", "Properties"}:
            raise PackageError(f"{stack_id}: cannot inline {unsupported or sorted(stack)}")
        passed = stack["Properties"].get("Parameters", {})
        values = {}
        for name, declared in nested.get("Parameters", {}).items():
            if name in passed:
                values[name] = passed[name]
            elif "Default" in declared:
                values[name] = declared["Default"]
            else:
                raise PackageError(f"{stack_id}: no value for the nested parameter {name}")
        renamed = {name: f"{stack_id}{name}" for name in nested["Resources"]}
        renamed_conditions = {name: f"{stack_id}{name}" for name in nested.get("Conditions", {})}
        for name, body in nested.get("Conditions", {}).items():
            if renamed_conditions[name] in conditions:
                raise PackageError(f"{stack_id}: the condition {renamed_conditions[name]} is already declared")
            conditions[renamed_conditions[name]] = _rename_conditions(
                _substitute(body, values, renamed), renamed_conditions
            )
        for name, body in nested["Resources"].items():
            if name in values:
                raise PackageError(f"{stack_id}: {name} is both a parameter and a resource")
            resources[renamed[name]] = _rename_conditions(_substitute(body, values, renamed), renamed_conditions)
        outputs[stack_id] = {
            name: _substitute(output["Value"], values, renamed) for name, output in nested.get("Outputs", {}).items()
        }
    if not conditions:
        del result["Conditions"]
    return _replace_output_references(result, outputs)


def _rename_conditions(value: Any, renamed: Mapping[str, str]) -> Any:
    """A nested template's condition names in the parent: a resource's Condition, `!Condition` and `!If`."""
    if isinstance(value, list):
        return [_rename_conditions(item, renamed) for item in value]
    if not isinstance(value, dict):
        return value
    result = {}
    for key, item in value.items():
        if key == "Condition" and isinstance(item, str):
            result[key] = renamed.get(item, item)
        elif key == "Fn::If" and isinstance(item, list) and item and isinstance(item[0], str):
            result[key] = [renamed.get(item[0], item[0]), *_rename_conditions(item[1:], renamed)]
        else:
            result[key] = _rename_conditions(item, renamed)
    return result


def _substitute(value: Any, values: Mapping[str, Any], renamed: Mapping[str, str]) -> Any:
    """A nested template's value in the parent: parameters by the values passed, resources by their new ids."""
    if isinstance(value, list):
        return [_substitute(item, values, renamed) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        [(key, argument)] = value.items()
        if key == "Ref" and argument in values:
            return copy.deepcopy(values[argument])
        if key == "Ref" and argument in renamed:
            return {"Ref": renamed[argument]}
        if key == "Fn::GetAtt":
            resource, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return {"Fn::GetAtt": [renamed.get(resource, resource), attribute]}
        if key == "Fn::Sub":
            return _substitute_sub(argument, values, renamed)
    return {key: _substitute(item, values, renamed) for key, item in value.items()}


def _substitute_sub(argument: Any, values: Mapping[str, Any], renamed: Mapping[str, str]) -> dict[str, Any]:
    text, variables = (argument, {}) if isinstance(argument, str) else argument
    variables = {name: _substitute(item, values, renamed) for name, item in variables.items()}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!") or name in variables:
            return match.group(0)
        base, dot, attribute = name.partition(".")
        if base in renamed:
            return "${" + renamed[base] + dot + attribute + "}"
        if name in values:
            variables[name] = copy.deepcopy(values[name])  # a parameter's value may be an expression
        return match.group(0)

    text = re.sub(r"\$\{([^}]+)\}", replace, text)
    return {"Fn::Sub": [text, variables] if variables else text}


def _replace_output_references(value: Any, outputs: Mapping[str, Mapping[str, Any]]) -> Any:
    if isinstance(value, list):
        return [_replace_output_references(item, outputs) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and "Fn::GetAtt" in value:
        argument = value["Fn::GetAtt"]
        resource, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        if resource in outputs:
            name = attribute.removeprefix("Outputs.")
            if name not in outputs[resource]:
                raise PackageError(f"{resource} has no output {name}")
            return copy.deepcopy(outputs[resource][name])
    if any(isinstance(item, str) and "Outputs." in item for item in _sub_names(value)):
        raise PackageError(f"a nested stack output inside Fn::Sub is not inlined: {value}")
    return {key: _replace_output_references(item, outputs) for key, item in value.items()}


def _sub_names(value: dict[str, Any]) -> list[str]:
    argument = value.get("Fn::Sub") if len(value) == 1 else None
    text = argument if isinstance(argument, str) else argument[0] if isinstance(argument, list) else ""
    return re.findall(r"\$\{([^}]+)\}", text)


# ------------------------------------------------------------------------------------------ names


def names_from_prefix(value: Any) -> Any:
    """Every `AWS::StackName` (all of them name things) read from the NamePrefix parameter instead."""
    if isinstance(value, list):
        return [names_from_prefix(item) for item in value]
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        return value
    if value == {"Ref": "AWS::StackName"}:
        return {"Ref": "NamePrefix"}
    if len(value) == 1 and "Fn::Sub" in value:
        argument = value["Fn::Sub"]
        if isinstance(argument, str):
            return {"Fn::Sub": argument.replace("${AWS::StackName}", "${NamePrefix}")}
        text, variables = argument
        return {"Fn::Sub": [text.replace("${AWS::StackName}", "${NamePrefix}"), names_from_prefix(variables)]}
    return {key: names_from_prefix(item) for key, item in value.items()}


# ------------------------------------------------------------------------------------------ code


def zip_directory(directory: Path) -> bytes:
    """The directory as a zip whose bytes depend only on the files' paths and contents: sorted entries, one fixed
    timestamp, read permission for everyone (Lambda runs the code as another user)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(directory).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            executable = path.stat().st_mode & 0o111
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def code_key(content: bytes) -> str:
    return f"{hashlib.sha256(content).hexdigest()}.zip"


def code_resources(sam: Mapping[str, Any]) -> list[str]:
    """The logical ids whose code `sam build` puts under .aws-sam/build/<id>: every function and layer."""
    kinds = ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion")
    return sorted(name for name, body in sam["Resources"].items() if body["Type"] in kinds)


def package_code(sam: Mapping[str, Any], build: Path, out: Path) -> dict[str, str]:
    """Each function's and layer's built code zipped into `out`, named by its hash: logical id -> object key."""
    keys = {}
    for name in code_resources(sam):
        directory = build / name
        if not directory.is_dir() or not any(directory.iterdir()):
            raise PackageError(f"no build of {name} in {directory}: run `make build` first")
        content = zip_directory(directory)
        keys[name] = code_key(content)
        target = out / keys[name]
        if not target.exists():
            target.write_bytes(content)
    # Only this build's zips stay, so `aws s3 sync` of the folder uploads exactly what the template names.
    for stale in set(out.glob("*.zip")) - {out / key for key in keys.values()}:
        stale.unlink()
    return keys


def placeholder_keys(sam: Mapping[str, Any]) -> dict[str, str]:
    """Stand-in keys for a check of the template alone (no build)."""
    return {name: code_key(name.encode()) for name in code_resources(sam)}


def point_code_at_keys(sam: dict[str, Any], keys: Mapping[str, str]) -> dict[str, Any]:
    result = copy.deepcopy(sam)
    result.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    for name, key in keys.items():
        properties = result["Resources"][name]["Properties"]
        uri_property = (
            "ContentUri" if result["Resources"][name]["Type"] == "AWS::Serverless::LayerVersion" else "CodeUri"
        )
        properties[uri_property] = f"s3://{PLACEHOLDER_BUCKET}/{key}"
    return result


def code_in_the_region_bucket(cfn: dict[str, Any]) -> dict[str, Any]:
    """Lambda reads code from a bucket in its own region: the placeholder bucket becomes <CodeBucketPrefix>-<region>."""
    result = copy.deepcopy(cfn)
    for name, body in result["Resources"].items():
        location = {"AWS::Lambda::Function": "Code", "AWS::Lambda::LayerVersion": "Content"}.get(body["Type"])
        if location is None:
            continue
        code = body["Properties"][location]
        if code.get("S3Bucket") != PLACEHOLDER_BUCKET:
            raise PackageError(f"{name}: code is not in the packaged bucket: {code}")
        code["S3Bucket"] = copy.deepcopy(CODE_BUCKET)
    if PLACEHOLDER_BUCKET in json.dumps(result):
        raise PackageError("the placeholder bucket is still referenced after packaging")
    return result


# ------------------------------------------------------------------------------------------ transform


class NoManagedPolicyLookup:
    """samtranslator asks this only for a policy given by name; Steward's roles use inline statements, so a request
    means the template changed and would need IAM (an AWS call) to resolve: refuse it."""

    def load(self) -> dict[str, str]:
        raise PackageError("a function names a managed policy; expanding it would need IAM (an AWS call)")


# samtranslator wants a region; one that exists nowhere shows whether it wrote the region (or its partition) into
# the template, which must serve every region.
SENTINEL_REGION = "xx-nowhere-1"


def translate(sam: dict[str, Any]) -> dict[str, Any]:
    """SAM's own transform, run locally."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    # A session with a region and no credentials: samtranslator reads its region name and makes no call.
    session = boto3.session.Session(region_name=SENTINEL_REGION)
    translator = Translator(None, Parser(), boto_session=session)
    # samtranslator fills some properties (a layer's name) with a parameter's value, the default when none is given;
    # each stack instance has its own values, so it sees no defaults, and gets the parameters back as they were.
    parameters = sam.get("Parameters", {})
    undefaulted = copy.deepcopy(sam)
    undefaulted["Parameters"] = {
        name: {key: item for key, item in declared.items() if key != "Default"} for name, declared in parameters.items()
    }
    cfn: dict[str, Any] = translator.translate(
        undefaulted, parameter_values={}, get_managed_policy_map=NoManagedPolicyLookup().load
    )
    cfn["Parameters"] = copy.deepcopy(parameters)
    cfn["Resources"] = _partition_neutral(cfn["Resources"])
    resources = json.dumps(cfn["Resources"])
    for fixed in (SENTINEL_REGION, "arn:aws:"):
        if fixed in resources:
            raise PackageError(f"the transform wrote {fixed!r} into the resources: they must serve every region")
    return cfn


def _partition_neutral(value: Any) -> Any:
    """SAM writes the partition it runs in into the managed policy ARNs it adds (AWSLambdaBasicExecutionRole, X-Ray);
    the StackSet's regions decide it instead."""
    if isinstance(value, list):
        return [_partition_neutral(item) for item in value]
    if isinstance(value, dict):
        return {key: _partition_neutral(item) for key, item in value.items()}
    if isinstance(value, str) and value.startswith("arn:aws:iam::aws:policy/"):
        return {"Fn::Sub": value.replace("arn:aws:", "arn:${AWS::Partition}:", 1)}
    return value


def expand(sam: dict[str, Any], keys: Mapping[str, str]) -> dict[str, Any]:
    """template.yaml (as data) -> the StackSet's template, its code at `keys` in the region's bucket."""
    if sam.get("Transform") != "AWS::Serverless-2016-10-31":
        raise PackageError(f"expected the SAM transform alone, not {sam.get('Transform')!r}")
    flat = inline_nested_stacks(sam, lambda url: template(Path(url)))
    flat = point_code_at_keys(names_from_prefix(flat), keys)
    overlap = set(NEW_PARAMETERS) & set(flat.get("Parameters", {}))
    if overlap:
        raise PackageError(f"template.yaml already declares {sorted(overlap)}")
    flat["Parameters"] = {**flat.get("Parameters", {}), **copy.deepcopy(NEW_PARAMETERS)}
    if "OrgReadRole" in flat["Resources"]:
        flat["Resources"]["OrgReadRole"]["Properties"]["RoleName"] = copy.deepcopy(ORG_READ_ROLE_NAME)
    cfn = code_in_the_region_bucket(translate(flat))
    cfn.pop("Transform", None)
    return cfn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=BUILD, help="sam build's output (default .aws-sam/build)")
    parser.add_argument("--out", type=Path, default=OUT, help="where the template and zips go (default .aws-sam/org)")
    parser.add_argument(
        "--placeholder-code",
        action="store_true",
        help="no build: stand-in code keys, the template alone to stdout (for contract tests)",
    )
    args = parser.parse_args(argv)
    sam = template()
    try:
        if args.placeholder_code:
            sys.stdout.write(json.dumps(expand(sam, placeholder_keys(sam)), indent=1, sort_keys=True))
            return 0
        args.out.mkdir(parents=True, exist_ok=True)
        keys = package_code(sam, args.build, args.out)
        expanded = expand(sam, keys)
    except PackageError as error:
        sys.stderr.write(f"org-package: {error}\n")
        return 1
    (args.out / TEMPLATE_NAME).write_text(json.dumps(expanded, indent=1, sort_keys=True) + "\n")
    sys.stderr.write(f"org-package: {args.out / TEMPLATE_NAME}; code: {' '.join(sorted(set(keys.values())))}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
