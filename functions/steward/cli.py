"""`steward`: ask Steward what it would do, without waiting for a tick.

Works against real AWS with the usual credentials, or any endpoint through AWS_ENDPOINT_URL. Exit codes: 0 done,
1 the checked thing is wrong (an invalid schedules document), 2 bad usage or input, 3 AWS unreachable or refused.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_AWS = 0, 1, 2, 3

FUNCTIONS = {
    "off-hours": "off_hours",
    "spot-fallback": "spot_fallback",
    "deploy-rollback": "deploy_rollback",
    "budget-alert": "budget_alert",
    "cost-report": "cost_report",
    "OffHoursFunction": "off_hours",
    "SpotFallbackFunction": "spot_fallback",
    "DeployRollbackFunction": "deploy_rollback",
    "BudgetAlertFunction": "budget_alert",
    "CostReportFunction": "cost_report",
}


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="steward", description="Ask Steward what it would do, or run one of its functions."
    )
    root.add_argument("--environment", help="dev, staging or prod (sets STEWARD_ENVIRONMENT)")
    root.add_argument("--state-table", help="Steward's DynamoDB table (sets STATE_TABLE; see the stack outputs)")
    root.add_argument("--schedules-parameter", help="the schedules SSM parameter (sets SCHEDULES_PARAMETER)")
    commands = root.add_subparsers(dest="command", required=True)

    plan = commands.add_parser("plan", help="what the next tick would do")
    plan.add_argument("what", choices=["off-hours"])
    plan.add_argument("--at", help="ISO-8601 instant to plan for (default: now)")

    invoke = commands.add_parser("invoke", help="run a handler in-process with an event file, like sam local invoke")
    invoke.add_argument("function", choices=sorted(FUNCTIONS), metavar="FUNCTION", help=", ".join(list(FUNCTIONS)[:5]))
    invoke.add_argument("--event", required=True, type=Path, help="event JSON file (see events/)")
    mode = invoke.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", dest="dry_run", action="store_true", default=None, help="decide and report only")
    mode.add_argument("--no-dry-run", dest="dry_run", action="store_false", help="really act")

    digest = commands.add_parser("digest", help="the cost digest, printed to the terminal")
    digest.add_argument("--dry-run", action="store_true", required=True, help="print it instead of posting it")
    digest.add_argument("--at", help="ISO-8601 instant the digest is for (default: now)")

    schedules = commands.add_parser("schedules", help="schedules documents")
    schedules_commands = schedules.add_subparsers(dest="schedules_command", required=True)
    validate = schedules_commands.add_parser("validate", help="check a schedules document before deploying it")
    validate.add_argument("file", type=Path)
    validate.add_argument("--at", help="also show each schedule's state at this instant (default: now)")
    return root


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        arguments = parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        _apply_options(arguments)
        return run(arguments, out)
    except CliError as error:
        print(f"steward: {error}", file=sys.stderr)
        return error.code
    except Exception as error:
        code, message = _explain(error)
        if code is None:
            raise
        print(f"steward: {message}", file=sys.stderr)
        return code


def run(arguments: argparse.Namespace, out: TextIO) -> int:
    """The chosen command, with the options already applied."""
    if arguments.command == "schedules":
        return validate_schedules(arguments.file, _instant(arguments.at), out)
    if arguments.command == "plan":
        return plan_off_hours(_instant(arguments.at), out)
    if arguments.command == "invoke":
        return invoke(arguments.function, arguments.event, arguments.dry_run, out)
    return print_digest(_instant(arguments.at), out)


def _apply_options(arguments: argparse.Namespace) -> None:
    for option, variable in (
        ("environment", "STEWARD_ENVIRONMENT"),
        ("state_table", "STATE_TABLE"),
        ("schedules_parameter", "SCHEDULES_PARAMETER"),
    ):
        value = getattr(arguments, option, None)
        if value:
            os.environ[variable] = value
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    if "AWS_REGION" not in os.environ and os.environ.get("AWS_DEFAULT_REGION"):
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"]


def _instant(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--at {text!r} is not an ISO-8601 instant like 2026-11-27T19:00:00Z") from None
    if value.tzinfo is None:
        raise CliError(f"--at {text!r} needs a timezone, e.g. a trailing Z")
    return value


def _explain(error: Exception) -> tuple[int | None, str]:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    from steward.adapters.state import StateUnavailable
    from steward.settings import SettingsError

    if isinstance(error, SettingsError):
        return EXIT_USAGE, f"{error} (set the variables, or pass --environment / --state-table / --schedules-parameter)"
    if isinstance(error, NoCredentialsError):
        return EXIT_AWS, "no AWS credentials found: configure a profile (AWS_PROFILE) or set AWS_ACCESS_KEY_ID"
    if isinstance(error, NoRegionError):
        return EXIT_AWS, "no AWS region: set AWS_REGION"
    if isinstance(error, EndpointConnectionError):
        return EXIT_AWS, f"cannot reach AWS: {error}"
    if isinstance(error, ClientError | StateUnavailable):
        return EXIT_AWS, f"AWS refused: {error}"
    return None, ""


def validate_schedules(path: Path, at: datetime, out: TextIO) -> int:
    from steward.domain.schedules import ScheduleError, parse_schedules

    text = _read(path)
    try:
        schedules = parse_schedules(text)
    except ScheduleError as error:
        print(f"{path}: {error}", file=out)
        return EXIT_INVALID
    print(f"{path}: {len(schedules)} schedule(s), valid", file=out)
    for name, schedule in schedules.items():
        desired = schedule.desired_at(at)
        state = desired.state if desired else "no edge in the past week"
        upcoming = schedule.next_edge(at, "off" if desired and desired.state == "on" else "on")
        following = f"; next {upcoming.state} at {upcoming.at.isoformat()} ({upcoming.local})" if upcoming else ""
        print(f"  {name}: {state} at {at.isoformat(timespec='minutes')}{following}", file=out)
    return EXIT_OK


def plan_off_hours(at: datetime, out: TextIO) -> int:
    """The decisions a tick at `at` would act on (the tick's own `plan_tick`), without acting."""
    from steward.adapters.schedules import Unusable
    from steward.runtime import runtime
    from steward.settings import OffHoursSettings
    from steward.workflows.off_hours import plan_tick

    planned = plan_tick(runtime(OffHoursSettings), at)
    if isinstance(planned, Unusable):
        print(f"off-hours would change nothing: {planned.problem}", file=out)
        return EXIT_INVALID
    rows = [(v.service.key, v.decision.action.value, v.decision.reason) for v in planned]
    print(f"off-hours plan for {at.isoformat(timespec='minutes')}: {len(rows)} tagged service(s)", file=out)
    _table(["SERVICE", "ACTION", "WHY"], sorted(rows), out)
    return EXIT_OK


def invoke(function: str, event_file: Path, dry_run: bool | None, out: TextIO) -> int:
    if dry_run is None:
        # Against real AWS the safe default is to decide and report only; a local endpoint may act.
        dry_run = not os.environ.get("AWS_ENDPOINT_URL")
    os.environ["DRY_RUN"] = "true" if dry_run else "false"
    try:
        event = json.loads(_read(event_file))
    except json.JSONDecodeError as error:
        raise CliError(f"{event_file} is not JSON: {error.msg} at line {error.lineno}") from None
    handler = importlib.import_module(f"steward.handlers.{FUNCTIONS[function]}").lambda_handler
    result = handler(event, _Context(FUNCTIONS[function]))
    print(json.dumps(result, indent=2, default=str), file=out)
    return EXIT_OK


def print_digest(at: datetime, out: TextIO) -> int:
    os.environ["DRY_RUN"] = "true"
    from steward.handlers import cost_report

    result = cost_report.lambda_handler(
        {"source": "steward.scheduler", "task": "cost-digest", "now": at.isoformat()}, _Context("cost_report")
    )
    message = result["message"]
    for block in message["blocks"]:
        print(block_text(block), file=out)
    for reply in message["replies"]:
        print("\n— in the thread —", file=out)
        for block in reply:
            print(block_text(block), file=out)
    return EXIT_OK


def block_text(block: dict[str, Any]) -> str:
    if block["type"] == "header":
        return f"\n{block['text']['text']}\n{'=' * len(block['text']['text'])}"
    if block["type"] == "divider":
        return "-" * 40
    if block["type"] == "context":
        return "  ".join(element.get("text", "") for element in block["elements"])
    parts = [block["text"]["text"]] if block.get("text") else []
    parts += [field["text"].replace("\n", " ") for field in block.get("fields", [])]
    return "\n".join(parts)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"{path}: cannot read it ({error})") from None


def _table(headers: list[str], rows: list[tuple[str, ...]], out: TextIO) -> None:
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    widths[-1] = 0
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(), file=out)
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out)


class _Context:
    def __init__(self, name: str) -> None:
        self.function_name = f"steward-cli-{name}"
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{self.function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = "cli"


if __name__ == "__main__":
    sys.exit(main())
