"""`make sandbox`: a local moto server with the reference platform seeded (the demo's morning: eight services on one
cluster, schedules, a budget, cost data, a state table; and the demo's second account, team2-dev, with its own stack)
and the Slack stand-in, plus an env file that points the `steward` command at both. Every CLI example in the README
runs as written in a shell that sourced the file.

Runs in the foreground until interrupted; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shlex
import signal
import sys
import threading
from pathlib import Path

from moto.ce.responses import CostExplorerResponse
from moto.server import ThreadedMotoServer

from devtools.demo import ORG_EXTERNAL_ID, configure, seed, seed_team2
from devtools.slack_standin import SlackStandIn
from devtools.template import ROOT

ENV_FILE = ROOT / "sandbox.env"
FORECAST = "402.15"  # USD for the rest of the month, as in the demo
# What the `steward` command reads; the rest of the demo's environment only matters to the handlers themselves.
EXPORTED = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EC2_METADATA_DISABLED",
    "POWERTOOLS_TRACE_DISABLED",
    "POWERTOOLS_METRICS_DISABLED",
    "POWERTOOLS_LOG_LEVEL",
    "STEWARD_ENVIRONMENT",
    "STATE_TABLE",
    "SCHEDULES_PARAMETER",
    "PAUSE_PARAMETER",
    "SLACK_CHANNEL",
    "SLACK_API_URL",
    "SLACK_TOKEN_SECRET_ARN",
    "BUDGET_ACTIONS",
    "MOTO_ECS_SERVICE_RUNNING",
    "STEWARD_ORG_EXTERNAL_ID",
)


def answer_forecasts() -> None:
    """moto has no GetCostForecast; the sandbox's server answers it with the demo's figure (the demo and the tests
    answer it with a botocore hook, which cannot reach a `steward` command in another process)."""

    def get_cost_forecast(self: CostExplorerResponse) -> str:
        return json.dumps({"Total": {"Amount": FORECAST, "Unit": "USD"}, "ForecastResultsByTime": []})

    CostExplorerResponse.get_cost_forecast = get_cost_forecast  # type: ignore[attr-defined]


def write_env_file(path: Path) -> None:
    """`source` it (bash or zsh): exports for the `steward` command, dummy credentials, no profile."""
    lines = [
        "# Written by `make sandbox`: the steward command against the local sandbox. Source it.",
        "unset AWS_PROFILE",
    ]
    lines += [f"export {name}={shlex.quote(os.environ[name])}" for name in EXPORTED if name in os.environ]
    lines.append(f'export PATH={shlex.quote(str(ROOT / ".venv" / "bin"))}:"$PATH"')
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    arguments = argparse.ArgumentParser(prog="sandbox", description=__doc__.splitlines()[0])
    arguments.add_argument("--port", type=int, default=5055, help="moto's port on 127.0.0.1 (0: any free port)")
    arguments.add_argument("--env-file", type=Path, default=ENV_FILE)
    options = arguments.parse_args(argv)
    os.environ.setdefault("MOTO_ECS_SERVICE_RUNNING", "1000")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    answer_forecasts()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=options.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with SlackStandIn() as slack:
            configure(f"http://{host}:{port}", slack)
            os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
            seed(os.environ["AWS_ENDPOINT_URL"])
            seed_team2()  # a member account with its own stack, for `steward org`
            os.environ["STEWARD_ORG_EXTERNAL_ID"] = ORG_EXTERNAL_ID
            write_env_file(options.env_file)
            shown = options.env_file.relative_to(ROOT) if options.env_file.is_relative_to(ROOT) else options.env_file
            print(f"moto on {os.environ['AWS_ENDPOINT_URL']}, Slack stand-in on {slack.url}", flush=True)
            print(f"ready: in another shell, `source {shown}`, then try the README's steward commands", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
    finally:
        server.stop()
        options.env_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
