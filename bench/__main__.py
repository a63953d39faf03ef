"""`make bench`: prints Steward's figures as a table and writes them to bench/results.md."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Before Steward is imported: Powertools reads these once.
os.environ.update(
    {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true"}
)

from bench import off_hours

RESULTS = Path(__file__).with_name("results.md")


def main() -> int:
    lines = ["# Steward benchmark figures", "", "## Off-hours: AWS requests per tick", ""]
    lines += [
        "| services | scenario | requests | budget | naive | naive ÷ Steward | seconds (moto) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    failures = []
    for figure in off_hours.request_counts():
        lines.append(
            f"| {figure.services} | {figure.scenario} | {figure.requests} | {figure.budget} | {figure.naive} "
            f"| {figure.ratio:.1f}× | {figure.seconds:.2f} |"
        )
        if figure.requests > figure.budget:
            failures.append(f"off-hours {figure.services} {figure.scenario}: {figure.requests} > {figure.budget}")
        print(lines[-1], flush=True)
    timings = off_hours.latency_speedup()
    sequential = timings["sequential"]
    lines += ["", "## Off-hours: 1,000 services stopping with 50 ms added to every request", ""]
    lines += ["| run | requests | wall time (s) | requests/s | speed-up |", "|---|---:|---:|---:|---:|"]
    for label in ("sequential", "pool of 16, 20 writes/s"):
        seconds, requests = timings[label], timings[f"{label} requests"]
        lines.append(
            f"| {label} | {requests:.0f} | {seconds:.1f} | {requests / seconds:.0f} | {sequential / seconds:.1f}× |"
        )
        print(lines[-1], flush=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    for failure in failures:
        print(f"TARGET MISSED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
