"""Cold start: import time and peak memory of each handler module in a fresh interpreter laid out as Lambda runs it,
against a bare `import boto3`.

Two figures per module. The import time is the fastest of several interleaved rounds. The ratio to boto3 is measured
inside each interpreter: it imports boto3 first, timed, then the rest of the module, so both halves run in the same
process at the same moment; the figure is the median over the rounds. On a shared machine a slow spell stretches a
whole interpreter, both halves alike, so the ratio holds still where two fastest-of-N times taken apart do not.
Deployed, boto3 loads after steward.handlers has paused the garbage collector, and is quicker than its half here: the
ratio leaves that out.

The layout: Steward's code as `make build` ships it, on PYTHONPATH ahead of a replica of the dependencies layer
(the same locked requirements, installed for this machine's platform and compiled with the same `make bytecode`),
no site-packages (`-S`) and no bytecode writes, since Lambda's code directories are read-only. The same layout
without shipped bytecode shows what a plain `sam build` costs.

A stack deployed with Tracing=Active also loads the X-Ray SDK, on the first invocation: measured separately as
import + Tracer creation.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = ("off_hours", "spot_fallback", "deploy_rollback", "budget_alert", "cost_report")
# What every handler needs before any Steward module: boto3, pydantic, Powertools' logger and metrics, loaded as a
# handler loads them (the garbage collector paused, then what loaded frozen).
FLOOR = "floor"
PROBE = """
import json, resource, sys, time
began = time.perf_counter()
import boto3
boto3_done = time.perf_counter()
if sys.argv[1] == "floor":
    import gc
    gc.disable()  # as steward.handlers does while a handler loads
    import pydantic
    from aws_lambda_powertools import Logger, Metrics
    class Event(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(defer_build=True, frozen=True)
        time: pydantic.AwareDatetime
    Logger(), Metrics(namespace="floor")
    gc.freeze()
    gc.enable()
elif sys.argv[1] != "boto3":
    __import__(sys.argv[1])
if sys.argv[2] == "traced":
    from steward.observability import tracer
    tracer()
elapsed = time.perf_counter() - began
# VmHWM is this interpreter's own peak; ru_maxrss would include the benchmark process this one was forked from.
try:
    with open("/proc/self/status") as status:
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except OSError:
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "boto3_seconds": boto3_done - began, "peak_mb": peak_kb / 1024}))
"""


# The clients an off-hours function's first full tick makes: schedules, records, the tag sweep, services, databases,
# their scalable targets and the Slack token. Timed after the handler module is imported, in the same layout.
FIRST_TICK_CLIENTS = (
    "ssm",
    "dynamodb",
    "resourcegroupstaggingapi",
    "ecs",
    "rds",
    "application-autoscaling",
    "secretsmanager",
)
CLIENTS_PROBE = """
import json, sys, time
import boto3
from steward.adapters.aws import RETRY_CONFIG, AwsClients
import steward.handlers.off_hours
services = sys.argv[2].split(",")
began = time.perf_counter()
if sys.argv[1] == "shared":
    aws = AwsClients()
    for service in services:
        aws.client(service)
else:
    for service in services:
        boto3.session.Session().client(service, config=RETRY_CONFIG)
print(json.dumps({"seconds": time.perf_counter() - began}))
"""


@dataclass
class FirstClients:
    """Seconds to make the first tick's clients, fastest of the rounds: as Steward makes them (one Session), and with a
    Session per client."""

    shared: float
    per_client: float


@dataclass
class ColdStart:
    module: str
    seconds: float  # fastest of the rounds
    peak_mb: float
    ratio: float  # × the `import boto3` in the same interpreter, median of the rounds
    quartiles: tuple[float, float]  # the ratio's first and third quartiles over the rounds: how far a run wanders


@dataclass
class Layout:
    """Where a probe finds Steward's code and its dependencies."""

    code: Path
    layer: Path


@dataclass
class ColdStarts:
    baseline: ColdStart
    floor: ColdStart  # boto3 + pydantic + Powertools logger and metrics: no handler can import in less
    handlers: list[tuple[ColdStart, ColdStart]]  # (default, Tracing=Active) per handler
    without_bytecode: ColdStart  # off_hours as a plain `sam build` would ship it
    baseline_without_bytecode: ColdStart
    clients: FirstClients


def probe(module: str, layout: Layout, *, traced: bool = False) -> dict[str, float]:
    """One fresh interpreter importing `module` (boto3 first, timed on its own): import seconds and peak memory."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{layout.code}{os.pathsep}{layout.layer}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "POWERTOOLS_TRACE_DISABLED": "false" if traced else "true",
    }
    output = subprocess.run(
        [sys.executable, "-S", "-c", PROBE, module, "traced" if traced else "plain"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    sample: dict[str, float] = json.loads(output.stdout.strip().splitlines()[-1])
    return sample


def measure_all(probes: list[tuple[str, Layout, bool]], runs: int) -> list[ColdStart]:
    """Every probe once per round, rounds interleaved; of each, the fastest time (on a shared machine noise only ever
    adds time, and interleaving spreads any slow spell over every module instead of one) and the median ratio."""
    samples: list[list[dict[str, float]]] = [[] for _ in probes]
    for _ in range(runs):
        for index, (module, layout, traced) in enumerate(probes):
            samples[index].append(probe(module, layout, traced=traced))
    measured = []
    for (module, _, _), taken in zip(probes, samples, strict=True):
        first, median, third = statistics.quantiles([s["seconds"] / s["boto3_seconds"] for s in taken], n=4)
        seconds, peak_mb = min(s["seconds"] for s in taken), min(s["peak_mb"] for s in taken)
        measured.append(ColdStart(module, seconds, peak_mb, median, (first, third)))
    return measured


def first_clients(layout: Layout, runs: int) -> FirstClients:
    """The first tick's clients made both ways, in fresh interpreters, rounds interleaved; the fastest of each."""
    env = {**os.environ, "PYTHONPATH": f"{layout.code}{os.pathsep}{layout.layer}", "PYTHONDONTWRITEBYTECODE": "1"}
    taken: dict[str, list[float]] = {"shared": [], "per-client": []}
    for _ in range(runs):
        for way, seconds in taken.items():
            output = subprocess.run(
                [sys.executable, "-S", "-c", CLIENTS_PROBE, way, ",".join(FIRST_TICK_CLIENTS)],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            )
            seconds.append(json.loads(output.stdout.strip().splitlines()[-1])["seconds"])
    return FirstClients(shared=min(taken["shared"]), per_client=min(taken["per-client"]))


@contextmanager
def lambda_layouts() -> Iterator[tuple[Layout, Layout]]:
    """(as `make build` ships it, as a plain `sam build` would): Steward's code and a layer replica each."""
    shipped_code = ROOT / ".aws-sam" / "build" / "OffHoursFunction"
    if not any(shipped_code.rglob("*.pyc")):
        raise SystemExit("run `make build` first: the cold start is measured on its output")
    with tempfile.TemporaryDirectory(prefix="steward-bench-") as scratch:
        plain_layer, shipped_layer, plain_code = (Path(scratch) / name for name in ("layer", "layer-pyc", "code"))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--no-compile",
                "--require-hashes",
                "--target",
                str(plain_layer),
                "--requirement",
                str(ROOT / "layers" / "deps" / "requirements.txt"),
            ],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        shutil.copytree(plain_layer, shipped_layer)
        subprocess.run(
            [shutil.which("make") or "make", "--no-print-directory", "-s", "bytecode", f"DIRS={shipped_layer}"],
            cwd=ROOT,
            check=True,
        )
        shutil.copytree(
            ROOT / "functions" / "steward", plain_code / "steward", ignore=shutil.ignore_patterns("__pycache__")
        )
        yield Layout(shipped_code, shipped_layer), Layout(plain_code, plain_layer)


ROUNDS = 15  # a shared machine's slow spells only add time: more rounds, a truer fastest


def cold_starts(runs: int = ROUNDS) -> ColdStarts:
    """boto3, the floor every handler shares, then each handler as deployed by default (no tracing) and with
    Tracing=Active; the fastest of `runs` interleaved rounds."""
    with lambda_layouts() as (shipped, plain):
        modules = [f"steward.handlers.{name}" for name in HANDLERS]
        probes = [("boto3", shipped, False), (FLOOR, shipped, False)]
        probes += [(m, shipped, traced) for m in modules for traced in (False, True)]
        probes += [(modules[0], plain, False), ("boto3", plain, False)]
        measured = measure_all(probes, runs)
        return ColdStarts(
            baseline=measured[0],
            floor=measured[1],
            handlers=[(measured[i], measured[i + 1]) for i in range(2, 2 + 2 * len(modules), 2)],
            without_bytecode=measured[-2],
            baseline_without_bytecode=measured[-1],
            clients=first_clients(shipped, runs),
        )
