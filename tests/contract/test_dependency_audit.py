"""The dependency audit `make test` runs: a locked version with a known advisory fails it, naming the package, the
advisory and the fixed version; a clean lock passes. pip-audit runs for real, against a stand-in OSV service on
127.0.0.1 that knows one advisory, so nothing leaves this machine."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from devtools import audit

ADVISORY = {
    "id": "GHSA-j8r2-6x86-q33q",
    "summary": "Unintended leak of Proxy-Authorization header",
    "aliases": ["CVE-2023-32681"],
    "affected": [
        {
            "package": {"name": "requests", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.3.0"}, {"fixed": "2.31.0"}]}],
        }
    ],
}
HASH = "--hash=sha256:" + "0" * 64


class OsvStandIn(BaseHTTPRequestHandler):
    queries: list[dict[str, Any]] = []  # shared by the handler instances the server creates per request

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.queries.append(query)
        known = query["package"]["name"] == "requests" and query["version"] == "2.25.0"
        body = json.dumps({"vulns": [ADVISORY]} if known else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def osv_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), OsvStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    OsvStandIn.queries = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    server.shutdown()


def lock_file(tmp_path: Path, *pins: str) -> Path:
    lock = tmp_path / "requirements.lock"
    lock.write_text("".join(f"{pin} {HASH}\n" for pin in pins))
    return lock


def test_a_locked_version_with_a_known_advisory_fails_the_audit_and_says_what_to_upgrade(
    tmp_path: Path, osv_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = lock_file(tmp_path, "requests==2.25.0", "six==1.17.0")

    exit_code = audit.main([str(lock), "--service", "osv", "--osv-url", osv_url])

    output = capsys.readouterr().out
    assert exit_code == 1
    assert "2 audited, 1 vulnerable, 0 not audited" in output
    vulnerable = [line for line in output.splitlines() if "VULNERABLE" in line]
    assert len(vulnerable) == 1
    assert "requests==2.25.0" in vulnerable[0]
    assert "GHSA-j8r2-6x86-q33q" in vulnerable[0]
    assert "CVE-2023-32681" in vulnerable[0]
    assert vulnerable[0].endswith("(fixed in 2.31.0)")
    assert {q["package"]["name"] for q in OsvStandIn.queries} == {"requests", "six"}


def test_a_lock_with_no_known_advisory_passes(tmp_path: Path, osv_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    lock = lock_file(tmp_path, "requests==2.32.5", "six==1.17.0")

    exit_code = audit.main([str(lock), "--service", "osv", "--osv-url", osv_url])

    assert exit_code == 0
    assert "2 audited, 0 vulnerable, 0 not audited" in capsys.readouterr().out


@pytest.mark.parametrize(("strict", "expected_exit"), [("", 0), ("1", 1)])
def test_an_unreachable_vulnerability_service_is_reported_as_not_audited_and_fails_only_when_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, strict: str, expected_exit: int
) -> None:
    monkeypatch.setenv("AUDIT_STRICT", strict)
    lock = lock_file(tmp_path, "six==1.17.0")
    closed_port = "http://127.0.0.1:9/v1/query"

    exit_code = audit.main([str(lock), "--service", "osv", "--osv-url", closed_port])

    assert exit_code == expected_exit
    assert "NOT AUDITED, pip-audit could not run its check" in capsys.readouterr().out


def test_a_malformed_lock_is_an_error_not_a_skipped_audit(tmp_path: Path, osv_url: str) -> None:
    lock = tmp_path / "broken.lock"
    lock.write_text("six=1.17.0\n")

    with pytest.raises(RuntimeError, match="invalid specifier"):
        audit.main([str(lock), "--service", "osv", "--osv-url", osv_url])
