"""A stand-in for the Slack Web API on 127.0.0.1: records chat.postMessage calls, answers like Slack does,
and on request answers 429 with Retry-After (rate limit) or 503 (outage)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Recorded:
    method: str
    token: str
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def text(self) -> str:
        return str(self.body.get("text", ""))

    @property
    def blocks(self) -> list[dict[str, Any]]:
        blocks = self.body.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


class SlackStandIn:
    """`with SlackStandIn() as slack:` → slack.url is the Web API base URL; slack.messages what was posted."""

    def __init__(self) -> None:
        self.calls: list[Recorded] = []
        self.rejected: list[Recorded] = []
        self._script: list[tuple[int, int]] = []  # (status, retry_after) answers to give before succeeding
        self.down = False
        self._lock = threading.Lock()
        self._ts = 1_700_000_000
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # shutdown() waits for the serve loop's next poll: 0.5 s by default, in every test that posts to Slack.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/"

    @property
    def messages(self) -> list[Recorded]:
        return [call for call in self.calls if call.method == "chat.postMessage"]

    def rate_limit_next(self, times: int = 1, retry_after: int = 1) -> None:
        with self._lock:
            self._script.extend([(429, retry_after)] * times)

    def __enter__(self) -> SlackStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_answer(self) -> tuple[int, int] | None:
        with self._lock:
            if self.down:
                return (503, 0)
            return self._script.pop(0) if self._script else None

    def _record(self, method: str, token: str, body: dict[str, Any], ok: bool) -> str:
        with self._lock:
            self._ts += 1
            (self.calls if ok else self.rejected).append(Recorded(method, token, body))
            return f"{self._ts}.000100"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:
                method = self.path.rsplit("/", 1)[-1]
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw or "{}")
                else:
                    body = {key: values[-1] for key, values in parse_qs(raw).items()}
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                answer = standin._next_answer()
                if answer is not None:
                    status, retry_after = answer
                    standin._record(method, token, body, ok=False)
                    self.send_response(status)
                    if retry_after:
                        self.send_header("Retry-After", str(retry_after))
                    payload = json.dumps(
                        {"ok": False, "error": "ratelimited" if status == 429 else "service_unavailable"}
                    )
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(payload.encode())
                    return
                if not token:
                    self._reply({"ok": False, "error": "not_authed"})
                    return
                if method == "chat.postMessage" and not body.get("channel"):
                    self._reply({"ok": False, "error": "channel_not_found"})
                    return
                ts = standin._record(method, token, body, ok=True)
                self._reply(
                    {"ok": True, "channel": body.get("channel"), "ts": ts, "message": {"text": body.get("text")}}
                )

            def _reply(self, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
