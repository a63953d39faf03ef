"""Cold start: import time and peak memory of each handler module in a fresh interpreter, against a bare
`import boto3` measured the same way in the same run (median of several runs)."""

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
elapsed = time.perf_counter() - began
print(json.dumps({"seconds": elapsed, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


@dataclass
class ColdStart:
    module: str
    seconds: float
    peak_mb: float


def measure(module: str, runs: int) -> ColdStart:
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "false", "AWS_XRAY_SDK_ENABLED": "true"}
    samples = []
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, "-c", PROBE, module], capture_output=True, text=True, check=True, env=env
        )
        samples.append(json.loads(output.stdout.strip().splitlines()[-1]))
    return ColdStart(
        module, statistics.median(s["seconds"] for s in samples), statistics.median(s["peak_mb"] for s in samples)
    )


def cold_starts(runs: int = 5) -> tuple[ColdStart, list[ColdStart]]:
    baseline = measure("boto3", runs)
    return baseline, [measure(f"steward.handlers.{name}", runs) for name in HANDLERS]
