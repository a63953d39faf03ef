"""A run with nothing to count writes no warning line to the function's log."""

from __future__ import annotations

import os
import subprocess
import sys

from devtools.template import ROOT


def test_a_run_that_sends_no_metrics_logs_no_powertools_warning() -> None:
    # Given a function whose run counted nothing (an idle off-hours tick)
    program = "from steward.observability import metrics\nmetrics.flush_metrics()\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "functions"), "PYTHONWARNINGS": ""}

    # When its metrics are flushed, in a fresh interpreter with Python's default warning filters
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, check=True)

    # Then nothing is written to stderr (Lambda would put each line in the log group)
    assert "No application metrics" not in run.stderr
    assert run.stderr == ""
