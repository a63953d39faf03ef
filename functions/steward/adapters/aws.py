"""AWS clients: created lazily, shared per container, with boto3's retry modes and a per-call counter.

Endpoints come from boto3's own configuration, so `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` point every
client at a local moto server without code changes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Adaptive mode adds client-side rate limiting on top of standard retries; it suits a function that fans out.
RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 6},
    connect_timeout=5,
    read_timeout=20,
    max_pool_connections=32,
)


class AwsClients:
    """One boto3 client per service, made on first use. `calls` counts API operations actually sent."""

    def __init__(self, session: boto3.session.Session | None = None, config: Config = RETRY_CONFIG) -> None:
        self._session = session
        self._config = config
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                # One Session for every client: a new Session per client would read botocore's endpoint and service
                # data and resolve credentials again each time (`make bench`: the off-hours function's first tick
                # makes its 7 clients in 181 ms, against 700 ms with a Session each).
                # A Session is not thread-safe, its clients are (boto3 guide, "Session"; botocore#2991): it is only
                # ever used here, under the lock, and the clients it makes are shared by the worker threads.
                if self._session is None:
                    self._session = boto3.session.Session()
                client = self._session.client(service, config=self._config)  # type: ignore[call-overload]
                client.meta.events.register("before-call.*.*", self._count)
                self._clients[service] = client
            return self._clients[service]

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def use(self, service: str, client: Any) -> None:
        """Serve `service` with the given client (a local stand-in) instead of a boto3 one."""
        with self._lock:
            self._clients[service] = client

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def __getattr__(self, service: str) -> Any:
        # aws.ecs, aws.dynamodb, aws.application_autoscaling … read like the service they are.
        if service.startswith("_"):
            raise AttributeError(service)
        return self.client(service.replace("_", "-"))


TRANSIENT_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestThrottledException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalServerError",
    "ServerException",
}


def is_transient(error: Exception) -> bool:
    """Throttling and server-side failures are worth retrying (the event goes back to Lambda); the rest are not."""
    if isinstance(error, ClientError):
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return error.response.get("Error", {}).get("Code") in TRANSIENT_CODES or status >= 500
    return isinstance(error, BotoCoreError)


class RateLimiter:
    """A token bucket shared by threads: at most `per_second` calls a second, bursts up to `burst`."""

    def __init__(self, per_second: float, burst: int | None = None) -> None:
        self._rate = per_second
        self._capacity = float(burst if burst is not None else max(1, int(per_second)))
        self._tokens = self._capacity
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self._rate
            time.sleep(wait)
