"""`make sandbox`: every `steward` example in the README runs as written in a shell that sourced sandbox.env, and
`steward invoke` answers every sample under events/ there without a traceback."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from devtools.template import ROOT

pytestmark = pytest.mark.long_running

README = ROOT / "README.md"
STEWARD = Path(sys.executable).with_name("steward")
FUNCTION_OF_FOLDER = {
    "off_hours": "off-hours",
    "spot_fallback": "spot-fallback",
    "deploy_rollback": "deploy-rollback",
    "budget_alert": "budget-alert",
    "cost_report": "cost-report",
}


def imitated(path: Path) -> str:
    text = path.read_text()
    for marker, function in (
        ('"Records"', "budget-alert"),
        ("aws.cloudwatch", "deploy-rollback"),
        ("aws.ec", "spot-fallback"),
    ):
        if marker in text:
            return function
    return "off-hours"


def readme_examples() -> list[str]:
    """Every line of a README code block that runs `steward` (once each), with its comment and [optional parts]
    dropped."""
    commands, in_block = [], False
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        command = line.split("  #")[0].strip()
        if in_block and command.startswith("steward "):
            commands.append(re.sub(r"\s*\[[^\]]*\]", "", command))
    return list(dict.fromkeys(commands))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    env_file = tmp_path_factory.mktemp("sandbox") / "sandbox.env"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STEWARD_", "SLACK_", "STATE_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.sandbox", "--port", "0", "--env-file", str(env_file)],
        cwd=ROOT,
        env={**clean, "AWS_EC2_METADATA_DISABLED": "true"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 90
    while not env_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the sandbox did not start: {process.communicate()[0]}")
        time.sleep(0.2)
    yield env_file
    process.terminate()
    process.wait(timeout=30)
    assert not env_file.exists(), "the sandbox removes its env file when it stops"


def in_sandbox(env_file: Path, command: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STEWARD_", "SLACK_", "STATE_"))}
    return subprocess.run(  # the README's own examples, in a shell as a reader runs them
        ["/bin/bash", "-c", f"source {env_file} && {command}"],
        check=False,
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_readme_shows_the_operator_commands() -> None:
    commands = readme_examples()
    for expected in ("status", "history", "restore-all", "plan", "invoke", "digest", "schedules validate"):
        assert any(c.startswith(f"steward {expected}") for c in commands), expected


def test_every_readme_steward_example_runs_as_written_in_the_sandbox(sandbox: Path) -> None:
    # Given the sandbox and a shell that sourced its env file
    failures = []
    for command in readme_examples():
        # When the README's example runs as written
        finished = in_sandbox(sandbox, command)
        # Then it succeeds, says something, and never shows a traceback
        if finished.returncode != 0 or not finished.stdout.strip() or "Traceback" in finished.stderr:
            failures.append(f"{command}: exit {finished.returncode}\n{finished.stdout[-500:]}{finished.stderr[-800:]}")
    assert not failures, "\n\n".join(failures)


def test_steward_invoke_answers_every_sample_event_in_the_sandbox(sandbox: Path) -> None:
    # Given every sample under events/, each sent to the function its folder names (a malformed or unmatched one to
    # the function whose events it imitates), run through the steward command's own entry point in one process
    cases = [
        (FUNCTION_OF_FOLDER.get(path.parent.name) or imitated(path), str(path.relative_to(ROOT)))
        for path in sorted((ROOT / "events").glob("*/*.json"))
    ]
    driver = (
        "import contextlib, io, json, sys\n"
        "from steward.cli import main\n"
        "answers = []\n"
        "for function, event in json.loads(sys.argv[1]):\n"
        "    out, err = io.StringIO(), io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        code = main(['invoke', function, '--event', event], out=out)\n"
        "    answers.append([function, event, code, out.getvalue(), err.getvalue()])\n"
        "print(json.dumps(answers))\n"
    )
    # When each is invoked (a dry run)
    finished = in_sandbox(sandbox, f"python -c {shlex.quote(driver)} {shlex.quote(json.dumps(cases))}")
    assert finished.returncode == 0, finished.stderr[-2000:]
    answers = json.loads(finished.stdout.strip().splitlines()[-1])
    # Then every one is answered: handled (0) or refused as input the function does not accept (2), with what
    # happened printed and no traceback
    assert len(answers) == len(cases)
    bad = [a for a in answers if a[2] not in (0, 2) or not (a[3].strip() or a[4].strip()) or "Traceback" in a[4]]
    assert not bad, "\n".join(f"{f} {e}: exit {c}\n{o[-300:]}{err[-500:]}" for f, e, c, o, err in bad)
    accepted = {(f, e) for f, e, c, _, _ in answers if c == 0}
    for folder, function in FUNCTION_OF_FOLDER.items():
        samples = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "events" / folder).glob("*.json"))]
        assert all((function, s) in accepted for s in samples), f"{function} refused one of its own samples"
