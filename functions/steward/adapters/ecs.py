"""ECS and Application Auto Scaling: finding services in few requests, and the calls that stop and start them.

The *_ACTIONS sets list the IAM actions each part calls, so the template's grants can be checked against them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from botocore.exceptions import ClientError
from msgspec import Struct

from steward.adapters.aws import AwsClients
from steward.domain.scope import Scope
from steward.domain.services import FARGATE_SPOT, ScalableTarget, ServiceView, Strategy, StrategyItem, spot_tasks

# The IAM actions each class calls; the functions' roles in template.yaml must grant exactly their union.
INVENTORY_ACTIONS = frozenset({"ecs:ListClusters", "ecs:ListServices", "ecs:DescribeServices"})
# Listing a stack's scope also reads the clusters' tags (a service without steward:environment takes its cluster's).
SCOPE_ACTIONS = INVENTORY_ACTIONS | {"ecs:DescribeClusters"}
SCALING_ACTIONS = frozenset(
    {
        "ecs:UpdateService",
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:RegisterScalableTarget",
    }
)

DESCRIBE_BATCH = 10  # DescribeServices takes at most 10 services a call
CLUSTERS_BATCH = 100  # DescribeClusters takes at most 100 clusters a call (ECS API Reference, DescribeClusters)
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

    def services_in(self, scope: Scope, held: Iterable[str] = ()) -> Scoped:
        """The services in the stack's scope, and of the `held` ones ('cluster/service' keys this stack holds) those
        now outside it, so the stack can still bring them back. Held services that are gone are in neither list."""
        clusters = [arn for arn in self.cluster_arns() if scope.names_cluster(cluster_name(arn))]
        cluster_tags = self.cluster_tags(clusters)
        inside: list[ServiceView] = []
        outside: dict[str, ServiceView] = {}
        for arn in clusters:
            for view in self.describe(arn, self.service_arns(arn)):
                if scope.covers(view.cluster, view.tags, cluster_tags.get(view.cluster)):
                    inside.append(view)
                else:
                    outside[view.key] = view
        wanted = set(held) - {view.key for view in inside}
        elsewhere = sorted(key for key in wanted if key not in outside)
        for view in self._describe_keys(elsewhere):
            outside[view.key] = view
        return Scoped(inside, [view for key, view in sorted(outside.items()) if key in wanted and view.exists])

    def cluster_tags(self, clusters: Sequence[str]) -> dict[str, dict[str, str]]:
        """Each cluster's tags by cluster name; 100 clusters a call."""
        tags: dict[str, dict[str, str]] = {}
        for batch in batched(list(clusters), CLUSTERS_BATCH):
            for raw in self._aws.ecs.describe_clusters(clusters=list(batch), include=["TAGS"]).get("clusters", []):
                tags[str(raw["clusterName"])] = service_tags(raw)
        return tags

    def in_scope(self, scope: Scope, cluster: str, tags: dict[str, str]) -> bool:
        """Whether a described service is the stack's; its cluster's tags are read only when the service has none."""
        cluster_tags = self.cluster_tags([cluster]).get(cluster) if scope.needs_cluster_tags(cluster, tags) else {}
        return scope.covers(cluster, tags, cluster_tags)

    def cluster_in_scope(self, scope: Scope, cluster: str) -> bool:
        """Whether the cluster itself is the stack's: named (or none named) and its own tag names the environment."""
        return scope.names_cluster(cluster) and scope.covers(cluster, {}, self.cluster_tags([cluster]).get(cluster))

    def _describe_keys(self, keys: Sequence[str]) -> list[ServiceView]:
        """Views of 'cluster/service' keys in clusters the listing did not read; a cluster that is gone gives none."""
        by_cluster: dict[str, list[str]] = {}
        for key in keys:
            cluster, _, name = key.partition("/")
            by_cluster.setdefault(cluster, []).append(name)
        views: list[ServiceView] = []
        for cluster, names in by_cluster.items():
            try:
                views.extend(self.describe(cluster, names))
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ClusterNotFoundException":
                    raise
        return views

    def describe_raw(self, cluster: str, service: str) -> dict[str, Any] | None:
        response = self._aws.ecs.describe_services(cluster=cluster, services=[service], include=["TAGS"])
        services = response.get("services", [])
        return services[0] if services else None

    def task_size(self, task_definition: str) -> tuple[int, int, str, tuple[str, ...]]:
        """(CPU units, memory MiB, CPU architecture, requiresCompatibilities) of a task definition."""
        definition = self._aws.ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
        architecture = (definition.get("runtimePlatform") or {}).get("cpuArchitecture", "X86_64")
        requires = tuple(str(name) for name in definition.get("requiresCompatibilities") or ())
        return int(definition.get("cpu") or 256), int(definition.get("memory") or 512), architecture, requires

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


class Scoped(Struct, frozen=True):
    inside: list[ServiceView]
    outside_held: list[ServiceView]  # held by this stack, now outside its scope: only ever brought back


def service_tags(raw: dict[str, Any]) -> dict[str, str]:
    """A DescribeServices service's or DescribeClusters cluster's tags (lower-case `key`/`value`, unlike most AWS
    APIs) as a plain mapping."""
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
        running_count=int(raw.get("runningCount", 0)),
        tags=service_tags(raw),
        scheduling_strategy=raw.get("schedulingStrategy", "REPLICA"),
        deployment_in_progress=in_progress,
        exists=raw.get("status", "ACTIVE") == "ACTIVE",
        task_definition=str(raw.get("taskDefinition", "")),
        fargate_spot_tasks=spot_tasks(service_strategy(raw), int(raw.get("desiredCount", 0)), {FARGATE_SPOT}),
        launch_type=str(raw.get("launchType", "")),
        capacity_providers=tuple(str(item["capacityProvider"]) for item in raw.get("capacityProviderStrategy") or []),
    )
