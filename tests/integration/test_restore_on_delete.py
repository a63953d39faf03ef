"""Deleting a Steward stack restores first: the stack's custom resource brings back every service Steward holds at
zero before the stack goes, answers CloudFormation every time, and does nothing when only the resource leaves the
template.

moto keeps stacks but cannot show one in DELETE_IN_PROGRESS: a botocore hook answers DescribeStacks with that
status where a test says the stack is being deleted (the same kind of stand-in as the digest's forecast). The
presigned S3 URL CloudFormation reads the answer from is a stand-in HTTP server on 127.0.0.1."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from devtools.ecs_overlay import EcsOverlay
from devtools.platform import (
    CLUSTER,
    ServiceSpec,
    create_service,
    database_states,
    seed_databases,
    seed_reference_platform,
    service_sizes,
)

from steward.adapters.ecs import Ecs
from steward.handlers import off_hours, restore_on_delete, spot_fallback
from steward.runtime import shared_aws
from tests.conftest import STATE_TABLE, load_event

EVENING = {"source": "steward.scheduler", "task": "off-hours-tick", "now": "2026-11-27T19:00:00Z"}
LATER_THAT_EVENING = {"source": "steward.scheduler", "task": "off-hours-tick", "now": "2026-11-27T21:00:00Z"}
SPOT_TAGS = {"steward:spot-fallback": "on", "steward:environment": "dev"}
STACK_ID = "arn:aws:cloudformation:eu-central-1:123456789012:stack/steward-test/5b918d10-cd98-11ea-90d5-0a9cd3354c10"


class PresignedUrl:
    """Stands in for the presigned S3 URL: records each answer PUT to it."""

    def __init__(self) -> None:
        self.answers: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.answers.append(json.loads(body))
                outer.headers.append(dict(self.headers))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/response?X-Amz-Signature=stand-in"

    def close(self) -> None:
        self._server.shutdown()


@pytest.fixture
def presigned() -> Iterator[PresignedUrl]:
    url = PresignedUrl()
    yield url
    url.close()


@pytest.fixture
def platform(aws: None) -> None:
    seed_reference_platform(boto3.session.Session())


def request(presigned: PresignedUrl, request_type: str = "Delete") -> dict[str, Any]:
    event = copy.deepcopy(load_event("restore_on_delete/StackDelete.json"))
    event.update({"RequestType": request_type, "ResponseURL": presigned.url, "StackId": STACK_ID})
    return event


def stack_status(status: str) -> None:
    """DescribeStacks answers that the stack is in `status` (moto cannot hold a stack in DELETE_IN_PROGRESS)."""

    def respond(**kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        stack = {"StackId": STACK_ID, "StackName": "steward-test", "StackStatus": status, "CreationTime": "2026-11-01"}
        return AWSResponse("http://127.0.0.1/", 200, {}, None), {"Stacks": [stack]}

    shared_aws().cloudformation.meta.events.register("before-call.cloudformation.DescribeStacks", respond)


def sizes() -> dict[str, dict[str, Any]]:
    return service_sizes(boto3.session.Session())


def held() -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=STATE_TABLE)["Items"]
    return [item for item in items if item["sk"]["S"] == "off-hours" and "desired_count" in item]


def test_deleting_the_stack_restores_every_service_held_at_zero_first(
    platform: None, presigned: PresignedUrl, lambda_context: Any, slack: Any
) -> None:
    # Given the evening tick held the platform at zero
    before = sizes()
    off_hours.lambda_handler(EVENING, lambda_context)
    assert held()
    assert sizes()["api-gateway"] == {"desired": 0, "target": (0, 8, True)}

    # When CloudFormation deletes the stack and sends the custom resource its Delete request
    stack_status("DELETE_IN_PROGRESS")
    result = restore_on_delete.lambda_handler(request(presigned), lambda_context)

    # Then every service is back as it was, nothing is held, and CloudFormation heard SUCCESS once
    assert sizes() == before
    assert held() == []
    assert result["outcome"] == "success"
    [answer] = presigned.answers
    assert answer["Status"] == "SUCCESS"
    assert answer["StackId"] == STACK_ID
    assert answer["RequestId"] == "unique id for this delete request"
    assert answer["PhysicalResourceId"] == "custom resource provider-defined physical id"
    assert "restored 8 service(s)" in answer["Reason"]
    assert presigned.headers[0]["Content-Type"] == ""
    # And Slack hears what came back
    assert any("everything it held is back" in m.text for m in slack.messages)
    # And a tick that still fires while the stack goes leaves them running: tonight's off edge counts as handled
    off_hours.lambda_handler(LATER_THAT_EVENING, lambda_context)
    assert sizes() == before


SPOT_BASE = [{"capacityProvider": "FARGATE_SPOT", "base": 2, "weight": 1}, {"capacityProvider": "FARGATE", "weight": 1}]


def spot_platform() -> EcsOverlay:
    """The cluster with FARGATE and FARGATE_SPOT; ECS through the overlay, which keeps strategies moto drops."""
    session = boto3.session.Session()
    session.client("ecs").create_cluster(clusterName=CLUSTER, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    overlay = EcsOverlay(session.client("ecs"))
    shared_aws().use("ecs", overlay)
    return overlay


def on_demand_after_a_spot_interruption(overlay: EcsOverlay, name: str, lambda_context: Any) -> None:
    """A Fargate Spot service moved to on-demand by a Spot interruption (an open Spot episode)."""
    session = boto3.session.Session()
    spec = ServiceSpec(name, 2)
    create_service(session.client("ecs"), session.client("application-autoscaling"), spec, tags=SPOT_TAGS)
    overlay.set_strategy(CLUSTER, name, SPOT_BASE)
    event = load_event("spot_fallback/FargateSpotTaskStopped--spot-interruption.json")
    event["detail"]["group"] = f"service:{name}"
    assert spot_fallback.lambda_handler(event, lambda_context)["services"][0]["outcome"] == "fell back"


def test_deleting_the_stack_puts_services_moved_to_on_demand_back_on_their_spot_strategy(
    aws: None, presigned: PresignedUrl, lambda_context: Any, slack: Any
) -> None:
    # Given two services a Spot interruption moved to on-demand, one since put on another strategy by hand
    overlay = spot_platform()
    on_demand_after_a_spot_interruption(overlay, "llm-orchestrator", lambda_context)
    on_demand_after_a_spot_interruption(overlay, "automation-services", lambda_context)
    by_hand = [{"capacityProvider": "FARGATE", "base": 1, "weight": 1}]
    overlay.set_strategy(CLUSTER, "automation-services", by_hand)

    # When CloudFormation deletes the stack (Spot failed minutes ago: nothing would wait for it to be stable)
    stack_status("DELETE_IN_PROGRESS")
    result = restore_on_delete.lambda_handler(request(presigned), lambda_context)

    # Then the first is back on its Spot strategy with a new deployment, the second keeps the strategy someone chose,
    # no Spot episode is left open, and the delete goes on
    assert overlay.strategies[(CLUSTER, "llm-orchestrator")] == [{"base": 0, "weight": 0, **i} for i in SPOT_BASE]
    assert overlay.updates[-1]["forceNewDeployment"] is True
    assert overlay.strategies[(CLUSTER, "automation-services")] == by_hand
    assert not [item for item in boto3.client("dynamodb").scan(TableName=STATE_TABLE)["Items"] if "spot" in str(item)]
    assert result["outcome"] == "success"
    [answer] = presigned.answers
    assert answer["Status"] == "SUCCESS"
    assert "shifted 1 service(s) back to Spot" in answer["Reason"]
    # And Slack names both outcomes
    text = "\n".join(block["text"]["text"] for m in slack.messages for block in m.blocks if "text" in block)
    assert "*shifted back* `pyairtable-dev/llm-orchestrator` capacity provider strategy FARGATE_SPOT base 2" in text
    assert "*forgotten* `pyairtable-dev/automation-services`" in text


def test_deleting_the_stack_starts_every_database_held_stopped_first(
    platform: None, presigned: PresignedUrl, lambda_context: Any
) -> None:
    # Given the platform's databases held stopped after their services
    seed_databases(boto3.session.Session())
    off_hours.lambda_handler(EVENING, lambda_context)
    off_hours.lambda_handler(LATER_THAT_EVENING, lambda_context)
    assert set(database_states(boto3.session.Session()).values()) >= {"stopped"}

    # When the stack is deleted
    stack_status("DELETE_IN_PROGRESS")
    result = restore_on_delete.lambda_handler(request(presigned), lambda_context)

    # Then every database is up again, and CloudFormation hears it
    assert set(database_states(boto3.session.Session()).values()) == {"available"}
    assert result["outcome"] == "success"
    assert "and started 2 database(s) it held stopped" in presigned.answers[0]["Reason"]
    # And a tick that still fires leaves them up: tonight's off edge counts as handled
    off_hours.lambda_handler({**LATER_THAT_EVENING, "now": "2026-11-27T21:30:00Z"}, lambda_context)
    assert set(database_states(boto3.session.Session()).values()) == {"available"}


def test_removing_the_resource_in_an_update_keeps_the_holds(
    platform: None, presigned: PresignedUrl, lambda_context: Any
) -> None:
    # Given services held at zero, and a stack that stays (the resource left the template in an update)
    off_hours.lambda_handler(EVENING, lambda_context)
    held_before = held()
    stack_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")

    # When the Delete request arrives
    restore_on_delete.lambda_handler(request(presigned), lambda_context)

    # Then nothing is restored (the next on edge restores them as usual) and CloudFormation hears SUCCESS
    assert held() == held_before
    assert sizes()["api-gateway"]["desired"] == 0
    assert [a["Status"] for a in presigned.answers] == ["SUCCESS"]


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_change_nothing_and_are_answered(
    aws: None, presigned: PresignedUrl, lambda_context: Any, aws_calls: list[str], request_type: str
) -> None:
    restore_on_delete.lambda_handler(request(presigned, request_type), lambda_context)

    assert [a["Status"] for a in presigned.answers] == ["SUCCESS"]
    assert aws_calls == []


def test_a_service_aws_will_not_restore_fails_the_delete_with_its_name(
    platform: None, presigned: PresignedUrl, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the platform held at zero, and ECS refusing api-gateway's desired count
    off_hours.lambda_handler(EVENING, lambda_context)
    original = Ecs.set_desired_count

    def refuse_api_gateway(self: Ecs, cluster: str, service: str, count: int) -> None:
        if service == "api-gateway":
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "UpdateService")
        original(self, cluster, service, count)

    monkeypatch.setattr(Ecs, "set_desired_count", refuse_api_gateway)
    stack_status("DELETE_IN_PROGRESS")

    # When the stack is deleted
    restore_on_delete.lambda_handler(request(presigned), lambda_context)

    # Then the delete fails naming the service still at zero (a retry of the delete finishes it); the rest came back
    [answer] = presigned.answers
    assert answer["Status"] == "FAILED"
    assert "pyairtable-dev/api-gateway" in answer["Reason"]
    assert sizes()["frontend"]["desired"] == 2
    assert [item["pk"]["S"] for item in held()] == ["service#pyairtable-dev/api-gateway"]


def test_an_error_is_answered_as_failed_rather_than_left_for_cloudformation_to_time_out(
    platform: None, presigned: PresignedUrl, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the state table is gone
    monkeypatch.setenv("STATE_TABLE", "no-such-table")
    stack_status("DELETE_IN_PROGRESS")

    # When the Delete request arrives
    restore_on_delete.lambda_handler(request(presigned), lambda_context)

    # Then CloudFormation hears FAILED with the reason, at once
    [answer] = presigned.answers
    assert answer["Status"] == "FAILED"
    assert "could not restore" in answer["Reason"]


def test_the_aws_sample_is_refused_for_its_placeholder_url(aws: None, lambda_context: Any) -> None:
    result = restore_on_delete.lambda_handler(load_event("restore_on_delete/StackDelete.json"), lambda_context)

    assert result["outcome"] == "rejected"
    assert "ResponseURL" in result["reason"]
