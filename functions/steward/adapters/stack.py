"""Steward's own stack: whether it is being deleted, and the answer to a custom resource request."""

from __future__ import annotations

import json
import urllib.request
from typing import Literal

from steward.adapters.aws import AwsClients
from steward.models.cloudformation import StackRequest

IAM_ACTIONS = frozenset({"cloudformation:DescribeStacks"})
MAX_RESPONSE_BYTES = 4096  # the response body's limit (CloudFormation User Guide, "Custom resource response objects")
ANSWER_TIMEOUT_SECONDS = 30


class Stack:
    def __init__(self, aws: AwsClients) -> None:
        self._aws = aws

    def being_deleted(self, stack_id: str) -> bool:
        """A Delete request also comes when the resource leaves the template in an update; only a stack that is
        itself being deleted means Steward is going away."""
        stacks = self._aws.cloudformation.describe_stacks(StackName=stack_id)["Stacks"]
        return bool(stacks) and stacks[0]["StackStatus"] == "DELETE_IN_PROGRESS"


def answer(request: StackRequest, status: Literal["SUCCESS", "FAILED"], reason: str, physical_id: str) -> None:
    """PUT the response to the request's presigned URL; the body is cut to the 4,096 bytes CloudFormation reads."""
    body = {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": physical_id,
        "StackId": request.stack_id,
        "RequestId": request.request_id,
        "LogicalResourceId": request.logical_resource_id,
    }
    encoded = json.dumps(body).encode()
    if len(encoded) > MAX_RESPONSE_BYTES:
        body["Reason"] = reason[: max(0, len(reason) - (len(encoded) - MAX_RESPONSE_BYTES) - 3)] + "..."
        encoded = json.dumps(body).encode()
    # The presigned URL is signed for an empty content type (as AWS's own cfn-response module sends it).
    put = urllib.request.Request(  # noqa: S310 (https, or a local stand-in: checked by the model)
        request.response_url, data=encoded, method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(put, timeout=ANSWER_TIMEOUT_SECONDS) as response:  # noqa: S310
        response.read()
