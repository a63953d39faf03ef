"""`make audit`, part of `make test`: pip-audit over every lock file Steward installs from.

Any known vulnerability in a locked version fails the run, naming the package, the advisory and the fixed versions.
A package the vulnerability service could not answer for is listed as not audited, never counted as clean; that
fails the run too under AUDIT_STRICT=1, which belongs wherever the service is reachable.

    python -m devtools.audit [LOCK ...] [--service pypi|osv] [--osv-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from devtools.template import ROOT

LOCKS = (
    "layers/deps/requirements.txt",
    "requirements/dev.lock",
    "requirements/tools.lock",
    "requirements/checkov.lock",
)

# How pip-audit ends when it cannot reach the vulnerability service (any other failure is an error in the lock).
UNREACHABLE = ("ConnectionError", "ServiceError", "ConnectTimeout", "ReadTimeout")


@dataclass
class Finding:
    package: str
    version: str
    advisory: str
    fixed_in: list[str]


@dataclass
class Audit:
    lock: str
    audited: int = 0
    findings: list[Finding] = field(default_factory=list)
    not_audited: list[str] = field(default_factory=list)
    unreachable: str | None = None  # why pip-audit produced no report


def pip_audit(lock: Path, service: str, osv_url: str | None) -> Audit:
    """One pip-audit run over one hash-pinned lock file: no resolution, no install (`--disable-pip`)."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        command = [
            str(Path(sys.executable).with_name("pip-audit")),
            "--disable-pip",
            "--requirement",
            str(lock),
            "--vulnerability-service",
            service,
            "--format",
            "json",
            "--output",
            str(report),
            "--progress-spinner",
            "off",
            "--cache-dir",
            str(Path(scratch) / "cache"),
        ]
        if osv_url:
            command += ["--osv-url", osv_url]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        audit = Audit(str(lock.relative_to(ROOT) if lock.is_relative_to(ROOT) else lock))
        if not report.exists():
            output = done.stderr.strip() or done.stdout.strip() or "no output"
            lines = output.splitlines()
            reason = next((line for line in lines if line.startswith("ERROR")), lines[-1])
            if not any(sign in output for sign in UNREACHABLE):
                raise RuntimeError(f"pip-audit could not audit {lock}: {reason}")
            audit.unreachable = reason  # nothing in this lock was audited
            return audit
        dependencies = json.loads(report.read_text())["dependencies"]
    for dependency in dependencies:
        if "skip_reason" in dependency:
            audit.not_audited.append(dependency["name"])
            continue
        audit.audited += 1
        for vuln in dependency.get("vulns", []):
            audit.findings.append(
                Finding(
                    dependency["name"],
                    dependency["version"],
                    " / ".join([vuln["id"], *(a for a in vuln.get("aliases", []) if a != vuln["id"])]),
                    list(vuln.get("fix_versions", [])),
                )
            )
    return audit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.audit", description=__doc__.splitlines()[0])
    parser.add_argument("locks", nargs="*", type=Path, default=[ROOT / lock for lock in LOCKS])
    parser.add_argument("--service", choices=["pypi", "osv"], default="pypi")
    parser.add_argument("--osv-url")
    arguments = parser.parse_args(argv)
    strict = os.environ.get("AUDIT_STRICT", "") == "1"

    audits = [pip_audit(lock, arguments.service, arguments.osv_url) for lock in arguments.locks]
    failed = False
    for audit in audits:
        if audit.unreachable:
            print(f"{audit.lock}: NOT AUDITED, pip-audit could not run its check: {audit.unreachable}")
            failed = failed or strict
            continue
        counts = f"{audit.audited} audited, {len(audit.findings)} vulnerable, {len(audit.not_audited)} not audited"
        print(f"{audit.lock}: {counts}")
        for finding in audit.findings:
            fixed = ", ".join(finding.fixed_in) or "no fixed version yet"
            print(f"  VULNERABLE {finding.package}=={finding.version}: {finding.advisory} (fixed in {fixed})")
            failed = True
    unanswered = sorted({name for audit in audits for name in audit.not_audited})
    if unanswered:
        print(
            f"NOT AUDITED: the {arguments.service} vulnerability service gave no answer for {len(unanswered)} "
            f"package(s): {', '.join(unanswered)}"
        )
        if strict:
            print("AUDIT_STRICT=1: a package that could not be audited fails the run")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
