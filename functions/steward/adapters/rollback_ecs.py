"""The ECS and CloudWatch calls deploy rollback makes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from steward.adapters.aws import is_transient
from steward.adapters.ecs import Ecs, service_tags
from steward.domain.rollback import ALARM_SERVICE_TAG, LiveDeployment, RollbackService
from steward.observability import logger

ROLLBACK_ACTIONS = frozenset(
    {
        "ecs:DescribeServices",
        "ecs:DescribeClusters",
        "ecs:DescribeTaskDefinition",
        "ecs:UpdateService",
        "ecs:ListServiceDeployments",
        "ecs:StopServiceDeployment",
        "cloudwatch:ListTagsForResource",
    }
)


class RollbackEcs(Ecs):
    """The calls deploy rollback makes."""

    # ECS API Reference, StopServiceDeployment, Errors: how ECS may refuse to stop a deployment that is no longer
    # stoppable (Developer Guide, "Stopping Amazon ECS service deployments": pending, in progress or being stopped).
    STOP_REFUSALS = frozenset({"ConflictException", "ServiceDeploymentNotFoundException", "InvalidParameterException"})

    def rollback_service(self, cluster: str, service: str) -> RollbackService | None:
        """The service as a rollback sees it: tags, task definition, live deployments, ECS's own alarm rollback."""
        raw = self.describe_raw(cluster, service)
        if raw is None:
            return None
        alarms = (raw.get("deploymentConfiguration") or {}).get("alarms") or {}
        watched = (alarms.get("alarmNames") or []) if alarms.get("enable") and alarms.get("rollback") else []
        return RollbackService(
            tags=service_tags(raw),
            task_definition=str(raw.get("taskDefinition", "")),
            deployments=tuple(self._live_deployment(item) for item in raw.get("deployments") or []),
            ecs_rollback_alarms=frozenset(watched),
        )

    @staticmethod
    def _live_deployment(raw: dict[str, Any]) -> LiveDeployment:
        created = raw.get("createdAt")
        return LiveDeployment(
            deployment_id=str(raw.get("id", "")),
            status=str(raw.get("status", "")),
            task_definition=str(raw.get("taskDefinition", "")),
            created_at=created if isinstance(created, datetime) else None,
        )

    def task_definition_status(self, task_definition: str) -> str:
        response = self._aws.ecs.describe_task_definition(taskDefinition=task_definition)
        return str(response["taskDefinition"].get("status", "ACTIVE"))

    def deploy_task_definition(self, cluster: str, service: str, task_definition: str) -> None:
        # No capacityProviderStrategy: ECS keeps the current one, so an active Spot fallback stays in place.
        self._aws.ecs.update_service(cluster=cluster, service=service, taskDefinition=task_definition)

    def stop_deployment_with_rollback(self, cluster: str, service: str) -> str | None:
        """Stop the service's in-progress deployment with a rollback; its ARN, or None when none is in progress,
        also when it finished between the listing and the stop."""
        arns = self._deployments_in_progress(cluster, service)
        if not arns:
            return None
        try:
            self._aws.ecs.stop_service_deployment(serviceDeploymentArn=arns[0], stopType="ROLLBACK")
        except ClientError as error:
            refused = error.response.get("Error", {}).get("Code") in self.STOP_REFUSALS
            # A refusal means "finished meanwhile" only once ECS no longer lists the deployment as in progress.
            if not refused or arns[0] in self._deployments_in_progress(cluster, service):
                raise
            return None
        return arns[0]

    def _deployments_in_progress(self, cluster: str, service: str) -> list[str]:
        listed = self._aws.ecs.list_service_deployments(cluster=cluster, service=service, status=["IN_PROGRESS"])
        return [str(d["serviceDeploymentArn"]) for d in listed.get("serviceDeployments", [])]

    def alarm_service_tag(self, alarm_arn: str) -> str:
        """The alarm's steward:service tag ("" when absent); an alarm whose tags cannot be read has none."""
        try:
            response = self._aws.cloudwatch.list_tags_for_resource(ResourceARN=alarm_arn)
        except ClientError as error:
            if is_transient(error):
                raise
            logger.warning("alarm tags unreadable", extra={"alarm": alarm_arn, "error": str(error)})
            return ""
        tags = {str(tag["Key"]): str(tag["Value"]) for tag in response.get("Tags", [])}
        return tags.get(ALARM_SERVICE_TAG, "")
