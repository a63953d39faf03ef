"""One latency run in its own process, so the sequential and pooled runs can go side by side:
python -m bench.latency CONCURRENCY WRITES_PER_SECOND → prints JSON."""

from __future__ import annotations

import json
import os
import sys

os.environ.update(
    {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true"}
)

from bench.off_hours import latency_run

if __name__ == "__main__":
    concurrency, rate = sys.argv[1], sys.argv[2]
    print(json.dumps(latency_run(concurrency, rate)))
