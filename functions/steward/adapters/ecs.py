"""ECS and Application Auto Scaling: finding services in few requests, and the calls that stop and start them.

The *_ACTIONS sets list the IAM actions each part calls, so the template's grants can be checked against them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from steward.adapters.aws import AwsClients, is_transient
from steward.domain.rollback import ALARM_SERVICE_TAG, LiveDeployment, RollbackService
from steward.domain.services import ScalableTarget, ServiceView
from steward.domain.spot import FARGATE_SPOT, ContainerInstance, SpotService, Strategy, StrategyItem, spot_tasks
from steward.observability import logger

# The IAM actions each class calls; the functions' roles in template.yaml must grant exactly their union.
INVENTORY_ACTIONS = frozenset({"ecs:ListClusters", "ecs:ListServices", "ecs:DescribeServices"})
SCALING_ACTIONS = frozenset(
    {
        "ecs:UpdateService",
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:RegisterScalableTarget",
    }
)
SPOT_ACTIONS = frozenset(
    {
        "ecs:ListClusters",
        "ecs:DescribeClusters",
        "ecs:DescribeServices",
        "ecs:UpdateService",
        "ecs:ListContainerInstances",
        "ecs:DescribeContainerInstances",
        "ecs:UpdateContainerInstancesState",
        "ecs:ListTasks",
        "ecs:DescribeTasks",
    }
)

DESCRIBE_BATCH = 10  # DescribeServices takes at most 10 services a call
TARGETS_BATCH = 50  # DescribeScalableTargets takes at most 50 resource ids a call
SUSPEND_ALL = {"DynamicScalingInSuspended": True, "DynamicScalingOutSuspended": True, "ScheduledScalingSuspended": True}


def cluster_name(arn_or_name: str) -> str:
    return arn_or_name.rsplit("/", 1)[-1] if arn_or_name.startswith("arn:") else arn_or_name


def resource_id(cluster: str, service: str) -> str:
    return f"service/{cluster}/{service}"


def batched(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Ecs:
    def __init__(self, aws: AwsClients) -> None:
        self._aws = aws

    def cluster_arns(self) -> list[str]:
        arns: list[str] = []
        for page in self._aws.ecs.get_paginator("list_clusters").paginate():
            arns.extend(page["clusterArns"])
        return arns

    def service_arns(self, cluster: str) -> list[str]:
        arns: list[str] = []
        paginator = self._aws.ecs.get_paginator("list_services")
        for page in paginator.paginate(cluster=cluster, PaginationConfig={"PageSize": 100}):
            arns.extend(page["serviceArns"])
        return arns

    def describe(self, cluster: str, services: Sequence[str]) -> list[ServiceView]:
        """Live views of the named services (ARNs or names), ten per request, tags included."""
        views: list[ServiceView] = []
        name = cluster_name(cluster)
        for batch in batched(list(services), DESCRIBE_BATCH):
            response = self._aws.ecs.describe_services(cluster=cluster, services=list(batch), include=["TAGS"])
            for raw in response.get("services", []):
                views.append(service_view(name, raw))
            for failure in response.get("failures", []):
                arn = failure.get("arn", "")
                views.append(
                    ServiceView(
                        cluster=name, name=arn.rsplit("/", 1)[-1], arn=arn, desired_count=0, tags={}, exists=False
                    )
                )
        return views

    def all_services(self) -> list[ServiceView]:
        """Every service in every cluster: ListClusters, ListServices (100 a page), DescribeServices (10 a call)."""
        views: list[ServiceView] = []
        for cluster in self.cluster_arns():
            views.extend(self.describe(cluster, self.service_arns(cluster)))
        return views

    def describe_raw(self, cluster: str, service: str) -> dict[str, Any] | None:
        response = self._aws.ecs.describe_services(cluster=cluster, services=[service], include=["TAGS"])
        services = response.get("services", [])
        return services[0] if services else None

    def task_size(self, task_definition: str) -> tuple[int, int, str]:
        """(CPU units, memory MiB, CPU architecture) of a task definition."""
        definition = self._aws.ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
        architecture = (definition.get("runtimePlatform") or {}).get("cpuArchitecture", "X86_64")
        return int(definition.get("cpu") or 256), int(definition.get("memory") or 512), architecture

    def set_desired_count(self, cluster: str, service: str, count: int) -> None:
        self._aws.ecs.update_service(cluster=cluster, service=service, desiredCount=count)

    def scalable_targets(self, keys: Iterable[tuple[str, str]]) -> dict[str, ScalableTarget]:
        """Targets for the given (cluster, service) pairs, keyed by 'cluster/service'; 50 per request."""
        ids = sorted({resource_id(cluster, service) for cluster, service in keys})
        targets: dict[str, ScalableTarget] = {}
        for batch in batched(ids, TARGETS_BATCH):
            paginator = self._aws.application_autoscaling.get_paginator("describe_scalable_targets")
            pages = paginator.paginate(
                ServiceNamespace="ecs", ResourceIds=list(batch), ScalableDimension="ecs:service:DesiredCount"
            )
            for page in pages:
                for raw in page["ScalableTargets"]:
                    key = raw["ResourceId"].removeprefix("service/")
                    targets[key] = ScalableTarget(
                        min_capacity=int(raw["MinCapacity"]),
                        max_capacity=int(raw["MaxCapacity"]),
                        suspended={k: bool(v) for k, v in (raw.get("SuspendedState") or {}).items()},
                    )
        return targets

    def set_scalable_target(self, cluster: str, service: str, target: ScalableTarget) -> None:
        self._aws.application_autoscaling.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=resource_id(cluster, service),
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=target.min_capacity,
            MaxCapacity=target.max_capacity,
            SuspendedState={**{key: False for key in SUSPEND_ALL}, **target.suspended},
        )

    def hold_scalable_target_at_zero(self, cluster: str, service: str, target: ScalableTarget) -> None:
        """Minimum 0 and scaling suspended, so auto scaling does not undo the stop."""
        self.set_scalable_target(
            cluster, service, ScalableTarget(min_capacity=0, max_capacity=target.max_capacity, suspended=SUSPEND_ALL)
        )


class SpotEcs(Ecs):
    """The calls Spot fallback makes: one service at a time, strategies, and EC2 container instances."""

    def spot_service(self, cluster: str, service: str) -> SpotService | None:
        raw = self.describe_raw(cluster, service)
        return spot_service(cluster_name(cluster), raw) if raw else None

    def cluster_providers(self, cluster: str) -> frozenset[str]:
        """The capacity providers associated with the cluster: a strategy may name only these (ECS API reference,
        CapacityProviderStrategyItem). Empty for a cluster ECS does not know."""
        response = self._aws.ecs.describe_clusters(clusters=[cluster])
        clusters = response.get("clusters", [])
        return frozenset(clusters[0].get("capacityProviders") or []) if clusters else frozenset()

    def set_strategy(self, cluster: str, service: str, strategy: Strategy) -> None:
        # ECS requires a new deployment to change a service's capacity provider strategy.
        self._aws.ecs.update_service(
            cluster=cluster,
            service=service,
            capacityProviderStrategy=[item.as_api() for item in strategy],
            forceNewDeployment=True,
        )

    def container_instance_of(self, instance_id: str) -> ContainerInstance | None:
        """The container instance an EC2 instance is registered as, in whichever cluster, else None."""
        for cluster in self.cluster_arns():
            arns = self._aws.ecs.list_container_instances(
                cluster=cluster, filter=f"ec2InstanceId == {instance_id}"
            ).get("containerInstanceArns", [])
            if arns:
                described = self._aws.ecs.describe_container_instances(cluster=cluster, containerInstances=arns[:1])
                for raw in described.get("containerInstances", [])[:1]:
                    return ContainerInstance(cluster, raw["containerInstanceArn"], raw.get("capacityProviderName", ""))
        return None

    def drain(self, cluster: str, container_instance_arn: str) -> None:
        self._aws.ecs.update_container_instances_state(
            cluster=cluster, containerInstances=[container_instance_arn], status="DRAINING"
        )

    def services_on(self, cluster: str, container_instance_arn: str) -> list[str]:
        """Names of the services with tasks on the container instance."""
        task_arns = self._aws.ecs.list_tasks(cluster=cluster, containerInstance=container_instance_arn).get(
            "taskArns", []
        )
        names: set[str] = set()
        for batch in batched(task_arns, 100):
            for task in self._aws.ecs.describe_tasks(cluster=cluster, tasks=list(batch)).get("tasks", []):
                group = task.get("group", "")
                if group.startswith("service:"):
                    names.add(group.removeprefix("service:"))
        return sorted(names)


ROLLBACK_ACTIONS = frozenset(
    {
        "ecs:DescribeServices",
        "ecs:DescribeTaskDefinition",
        "ecs:UpdateService",
        "ecs:ListServiceDeployments",
        "ecs:StopServiceDeployment",
        "cloudwatch:ListTagsForResource",
    }
)
TASK_SIZE_ACTIONS = frozenset({"ecs:DescribeTaskDefinition"})


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
            tags={tag["key"]: tag.get("value", "") for tag in raw.get("tags") or []},
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


def spot_service(cluster: str, raw: dict[str, Any]) -> SpotService:
    return SpotService(
        cluster=cluster,
        name=raw["serviceName"],
        desired_count=int(raw.get("desiredCount", 0)),
        strategy=tuple(StrategyItem.from_api(item) for item in raw.get("capacityProviderStrategy") or []),
        tags={tag["key"]: tag.get("value", "") for tag in raw.get("tags") or []},
        launch_type=raw.get("launchType", "") if not raw.get("capacityProviderStrategy") else "",
        deployment_controller=(raw.get("deploymentController") or {}).get("type", "ECS"),
        status=raw.get("status", "ACTIVE"),
    )


def service_view(cluster: str, raw: dict[str, Any]) -> ServiceView:
    deployments = raw.get("deployments") or []
    in_progress = len(deployments) > 1 or any(
        d.get("status") == "PRIMARY" and d.get("rolloutState") == "IN_PROGRESS" for d in deployments
    )
    return ServiceView(
        cluster=cluster,
        name=raw["serviceName"],
        arn=raw["serviceArn"],
        desired_count=int(raw.get("desiredCount", 0)),
        tags={tag["key"]: tag.get("value", "") for tag in raw.get("tags") or []},
        scheduling_strategy=raw.get("schedulingStrategy", "REPLICA"),
        deployment_in_progress=in_progress,
        exists=raw.get("status", "ACTIVE") == "ACTIVE",
        task_definition=str(raw.get("taskDefinition", "")),
        fargate_spot_tasks=spot_tasks(
            tuple(StrategyItem.from_api(item) for item in raw.get("capacityProviderStrategy") or []),
            int(raw.get("desiredCount", 0)),
            {FARGATE_SPOT},
        ),
    )
