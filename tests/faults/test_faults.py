"""Fault injection: duplicate and concurrent delivery, throttling and 5xx on a share of AWS requests, a service
Steward may not touch, a state table that refuses writes, Slack down. Steward acts once per incident, never leaves a
service at 0 without a restore record, and ends an off-hours night with every service exactly as it was."""

from __future__ import annotations

import copy
import functools
import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.retries import bucket, standard
from devtools.ecs_overlay import EcsOverlay, spot_service_behind_overlay
from devtools.platform import CLUSTER, seed_reference_platform, service_sizes
from devtools.slack_standin import SlackStandIn
from moto.core.botocore_stubber import MockRawResponse
from moto.dynamodb.models import DynamoDBBackend

from steward.handlers import budget_alert, deploy_rollback, off_hours, spot_fallback
from steward.runtime import shared_aws
from tests.conftest import STATE_TABLE, LambdaContext, load_event

figures: Counter[str] = Counter()
EVENING, NIGHT, MORNING = "2026-11-27T19:00:00Z", "2026-11-27T19:10:00Z", "2026-11-30T06:00:00Z"


@pytest.fixture(autouse=True)
def atomic_dynamodb_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """DynamoDB applies each write to an item atomically; in-process moto does not (its UpdateItem reads the item,
    creates it if missing and then applies the expression, so two threads can both "create" it). Serialise moto's
    item writes so the concurrent-delivery tests exercise Steward's conditional writes, not moto's thread safety."""
    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def serialised(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(*args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, serialised)
    yield


@pytest.fixture(autouse=True)
def retries_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Steward's clients keep their retry mode and attempts (adaptive, 6); only the waiting goes: the backoff between
    attempts and adaptive mode's client-side rate limit. Injected throttling then costs no wall-clock time, and every
    call still succeeds, retries or runs out of attempts exactly as it would with the waits."""
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    monkeypatch.setattr(bucket.TokenBucket, "acquire", lambda self, amount=1, block=True: True)


def tick(now: str) -> dict[str, Any]:
    result: dict[str, Any] = off_hours.lambda_handler(
        {"source": "steward.scheduler", "task": "off-hours-tick", "now": now}, LambdaContext()
    )
    return result


def three_times_at_once(handler: Any, event: dict[str, Any]) -> list[Any]:
    """The same event delivered three times, concurrently, as EventBridge and SNS may."""
    figures["duplicate deliveries"] += 3
    with ThreadPoolExecutor(max_workers=3) as pool:
        return list(pool.map(lambda e: handler(e, LambdaContext()), [copy.deepcopy(event) for _ in range(3)]))


def restore_records() -> dict[str, Any]:
    items = boto3.client("dynamodb").scan(TableName=STATE_TABLE)["Items"]
    return {i["pk"]["S"].rsplit("/", 1)[-1]: i for i in items if i["sk"]["S"] == "off-hours" and "desired_count" in i}


def assert_none_at_zero_without_record(morning: dict[str, Any]) -> None:
    records = restore_records()
    for name, size in service_sizes(boto3.session.Session()).items():
        if size["desired"] == 0 and morning[name]["desired"] > 0:
            assert name in records, f"{name} is at 0 with no restore record"


def inject(share: float, code: str, status: int, seed: int) -> None:
    """Answer `share` of every AWS request Steward sends with an error, before moto sees it."""
    chance = random.Random(seed)
    aws = shared_aws()

    def maybe_fail(request: Any, **kwargs: Any) -> AWSResponse | None:
        if chance.random() >= share:
            return None
        figures["faults injected"] += 1
        body = json.dumps({"__type": code, "message": "injected"}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-query-error": f"{code};Sender"}
        return AWSResponse(request.url, status, headers, MockRawResponse(body))

    for service in ("ecs", "application-autoscaling", "dynamodb", "ssm"):
        aws.client(service).meta.events.register_first("before-send", maybe_fail)


@pytest.fixture
def platform(aws: None) -> dict[str, Any]:
    seed_reference_platform(boto3.session.Session())
    return service_sizes(boto3.session.Session())


@pytest.mark.parametrize(("code", "status"), [("ThrottlingException", 400), ("InternalFailure", 500)])
def test_an_off_hours_night_under_30_percent_faults_restores_every_service_exactly(
    platform: dict[str, Any], code: str, status: int
) -> None:
    inject(0.3, code, status, seed=7)
    for now in (EVENING, NIGHT, "2026-11-27T19:20:00Z"):  # ticks every 10 minutes heal what a failed one left
        try:
            tick(now)
        except ClientError:
            figures["ticks that raised after retries"] += 1  # SPEC §4: retries ran out → raise → next tick heals
        assert_none_at_zero_without_record(platform)
    for now in (MORNING, "2026-11-30T06:10:00Z", "2026-11-30T06:20:00Z"):
        try:
            tick(now)
        except ClientError:
            figures["ticks that raised after retries"] += 1

    not_restored = {n: s for n, s in service_sizes(boto3.session.Session()).items() if s != platform[n]}
    figures["services not restored"] += len(not_restored)
    assert not_restored == {}


def test_concurrent_duplicate_ticks_stop_each_service_once(platform: dict[str, Any]) -> None:
    results = three_times_at_once(
        off_hours.lambda_handler, {"source": "steward.scheduler", "task": "off-hours-tick", "now": EVENING}
    )

    stops = Counter(s["service"] for r in results for s in r["stopped"])
    figures["actions duplicated"] += sum(count - 1 for count in stops.values())
    assert set(stops.values()) == {1}
    assert len(stops) == 8
    tick(MORNING)
    assert service_sizes(boto3.session.Session()) == platform


def test_a_service_steward_may_not_update_keeps_its_record_and_the_others_proceed(platform: dict[str, Any]) -> None:
    def deny_frontend(params: dict[str, Any], **kwargs: Any) -> None:
        if params.get("service") == "frontend":
            figures["faults injected"] += 1
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}, "UpdateService"
            )

    shared_aws().ecs.meta.events.register("provide-client-params.ecs.UpdateService", deny_frontend)

    result = tick(EVENING)

    assert [f["service"] for f in result["failed"]] == [f"{CLUSTER}/frontend"]
    assert len(result["stopped"]) == 7
    assert_none_at_zero_without_record(platform)


def test_a_state_table_refusing_writes_means_no_service_is_touched(platform: dict[str, Any]) -> None:
    inject(1.0, "AccessDeniedException", 400, seed=1)  # every write and read to the table (and the rest) refused

    with pytest.raises(ClientError):
        tick(EVENING)

    assert service_sizes(boto3.session.Session()) == platform


def test_concurrent_duplicate_spot_signals_cause_one_fallback(aws: None) -> None:
    strategy = [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    overlay = spot_service_behind_overlay(boto3.session.Session(), "llm-orchestrator", strategy)
    shared_aws().use("ecs", overlay)

    three_times_at_once(
        spot_fallback.lambda_handler, load_event("spot_fallback/FargateSpotTaskStopped--spot-interruption.json")
    )

    figures["actions duplicated"] += max(0, len(overlay.updates) - 1)
    assert len(overlay.updates) == 1


def test_concurrent_duplicate_alarms_cause_one_rollback(aws: None) -> None:
    from tests.integration.test_deploy_rollback import T0, Platform, alarm_event

    boto3.client("ecs").create_cluster(clusterName=CLUSTER, tags=[{"key": "steward:environment", "value": "dev"}])
    overlay = EcsOverlay(boto3.client("ecs"))
    shared_aws().use("ecs", overlay)
    platform = Platform(overlay, LambdaContext())
    platform.deploy(40, T0)
    from datetime import timedelta

    platform.deploy(42, T0 + timedelta(hours=2))
    before = len(overlay.updates)

    results = three_times_at_once(deploy_rollback.lambda_handler, alarm_event(T0 + timedelta(hours=2, minutes=10)))

    rollbacks = len(overlay.updates) - before
    figures["actions duplicated"] += max(0, rollbacks - 1)
    assert rollbacks == 1
    assert sorted(r["outcome"] for r in results) == ["duplicate", "duplicate", "rolled back"]


def test_concurrent_duplicate_budget_notifications_alert_once(aws: None, slack: SlackStandIn) -> None:
    results = three_times_at_once(
        budget_alert.lambda_handler, load_event("budget_alert/BudgetNotification--monthly-actual-80.json")
    )

    figures["actions duplicated"] += max(0, len(slack.messages) - 1)
    assert len(slack.messages) == 1
    assert sorted(r["records"][0]["outcome"] for r in results) == ["alerted", "duplicate", "duplicate"]


@pytest.mark.parametrize("failure", ["down", "429"])
def test_slack_down_or_rate_limited_never_blocks_the_action(
    platform: dict[str, Any], slack: SlackStandIn, failure: str
) -> None:
    if failure == "down":
        slack.down = True
    else:
        slack.rate_limit_next(times=1, retry_after=1)
    figures["faults injected"] += 1

    result = tick(EVENING)

    assert len(result["stopped"]) == 8
    assert all(size["desired"] == 0 for size in service_sizes(boto3.session.Session()).values())


def test_zz_report_fault_figures(record_property: Any) -> None:
    """Records the figures (printed at the end of the session, also under pytest-xdist)."""
    record_property("figures", "fault injection: " + ", ".join(f"{k}: {v}" for k, v in sorted(figures.items())))
    assert figures["actions duplicated"] == 0
    assert figures["services not restored"] == 0
