"""Cold start: import time and peak memory of each handler module in a fresh interpreter laid out as Lambda runs it,
against a bare `import boto3` measured the same way in the same run (median of several runs).

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
PROBE = """
import json, resource, sys, time
began = time.perf_counter()
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
print(json.dumps({"seconds": elapsed, "peak_mb": peak_kb / 1024}))
"""


@dataclass
class ColdStart:
    module: str
    seconds: float
    peak_mb: float


@dataclass
class Layout:
    """Where a probe finds Steward's code and its dependencies."""

    code: Path
    layer: Path


@dataclass
class ColdStarts:
    baseline: ColdStart
    handlers: list[tuple[ColdStart, ColdStart]]  # (default, Tracing=Active) per handler
    without_bytecode: ColdStart  # off_hours as a plain `sam build` would ship it
    baseline_without_bytecode: ColdStart


def measure(module: str, layout: Layout, runs: int, *, traced: bool = False) -> ColdStart:
    env = {
        **os.environ,
        "PYTHONPATH": f"{layout.code}{os.pathsep}{layout.layer}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "POWERTOOLS_TRACE_DISABLED": "false" if traced else "true",
    }
    samples = []
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, "-S", "-c", PROBE, module, "traced" if traced else "plain"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        samples.append(json.loads(output.stdout.strip().splitlines()[-1]))
    return ColdStart(
        module, statistics.median(s["seconds"] for s in samples), statistics.median(s["peak_mb"] for s in samples)
    )


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


def cold_starts(runs: int = 5) -> ColdStarts:
    """boto3, then each handler as deployed by default (no tracing) and with Tracing=Active."""
    with lambda_layouts() as (shipped, plain):
        modules = [f"steward.handlers.{name}" for name in HANDLERS]
        return ColdStarts(
            baseline=measure("boto3", shipped, runs),
            handlers=[(measure(m, shipped, runs), measure(m, shipped, runs, traced=True)) for m in modules],
            without_bytecode=measure(modules[0], plain, runs),
            baseline_without_bytecode=measure("boto3", plain, runs),
        )
