"""ECS and Application Auto Scaling: finding services in few requests, and the calls that stop and start them.

The *_ACTIONS sets list the IAM actions each part calls, so the template's grants can be checked against them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from steward.adapters.aws import AwsClients
from steward.domain.services import FARGATE_SPOT, ScalableTarget, ServiceView, Strategy, StrategyItem, spot_tasks

# The IAM actions each class calls; the functions' roles in template.yaml must grant exactly their union.
INVENTORY_ACTIONS = frozenset({"ecs:ListClusters", "ecs:ListServices", "ecs:DescribeServices"})
SCALING_ACTIONS = frozenset(
    {
        "ecs:UpdateService",
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:RegisterScalableTarget",
    }
)

DESCRIBE_BATCH = 10  # DescribeServices takes at most 10 services a call
TARGETS_BATCH = 50  # DescribeScalableTargets takes at most 50 resource ids a call
TASK_SIZE_ACTIONS = frozenset({"ecs:DescribeTaskDefinition"})
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


def service_tags(raw: dict[str, Any]) -> dict[str, str]:
    """A DescribeServices service's tags (lower-case `key`/`value`, unlike most AWS APIs) as a plain mapping."""
    return {tag["key"]: tag.get("value", "") for tag in raw.get("tags") or []}


def service_strategy(raw: dict[str, Any]) -> Strategy:
    return tuple(StrategyItem.from_api(item) for item in raw.get("capacityProviderStrategy") or [])


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
        tags=service_tags(raw),
        scheduling_strategy=raw.get("schedulingStrategy", "REPLICA"),
        deployment_in_progress=in_progress,
        exists=raw.get("status", "ACTIVE") == "ACTIVE",
        task_definition=str(raw.get("taskDefinition", "")),
        fargate_spot_tasks=spot_tasks(service_strategy(raw), int(raw.get("desiredCount", 0)), {FARGATE_SPOT}),
    )
