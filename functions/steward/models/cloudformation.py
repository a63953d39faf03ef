"""CloudFormation custom resource requests: the stack's own restore-on-delete resource sends them.

Fields as in the CloudFormation User Guide, "CloudFormation custom resource request and response reference"."""

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from steward.models.base import TOLERANT, Arn, NonEmpty


class StackRequest(BaseModel):
    model_config = TOLERANT

    request_type: Literal["Create", "Update", "Delete"] = Field(alias="RequestType")
    request_id: NonEmpty = Field(alias="RequestId")
    response_url: NonEmpty = Field(alias="ResponseURL")
    resource_type: NonEmpty = Field(alias="ResourceType")
    logical_resource_id: NonEmpty = Field(alias="LogicalResourceId")
    stack_id: Arn = Field(alias="StackId")
    physical_resource_id: str = Field(default="", alias="PhysicalResourceId")

    @field_validator("response_url")
    @classmethod
    def _presigned_https(cls, value: str) -> str:
        # The answer goes to a presigned S3 URL; plain http only to a local stand-in.
        if not value.startswith(("https://", "http://127.0.0.1")):
            raise ValueError("must be an https:// presigned URL")
        return value
