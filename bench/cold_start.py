"""Cold start: import time and peak memory of each handler module in a fresh interpreter, against a bare
`import boto3` measured the same way in the same run (median of several runs).

A stack deployed with Tracing=Active also loads the X-Ray SDK, on the first invocation: measured separately as
import + Tracer creation."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass

HANDLERS = ("off_hours", "spot_fallback", "deploy_rollback", "budget_alert", "cost_report")
PROBE = """
import json, resource, sys, time
began = time.perf_counter()
__import__(sys.argv[1])
if sys.argv[2] == "traced":
    from steward.observability import tracer
    tracer()
elapsed = time.perf_counter() - began
print(json.dumps({"seconds": elapsed, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


@dataclass
class ColdStart:
    module: str
    seconds: float
    peak_mb: float


def measure(module: str, runs: int, *, traced: bool = False) -> ColdStart:
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "false" if traced else "true"}
    samples = []
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, "-c", PROBE, module, "traced" if traced else "plain"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        samples.append(json.loads(output.stdout.strip().splitlines()[-1]))
    return ColdStart(
        module, statistics.median(s["seconds"] for s in samples), statistics.median(s["peak_mb"] for s in samples)
    )


def cold_starts(runs: int = 5) -> tuple[ColdStart, list[tuple[ColdStart, ColdStart]]]:
    """boto3, then each handler as deployed by default (no tracing) and with Tracing=Active."""
    baseline = measure("boto3", runs)
    modules = [f"steward.handlers.{name}" for name in HANDLERS]
    return baseline, [(measure(m, runs), measure(m, runs, traced=True)) for m in modules]
