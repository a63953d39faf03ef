"""The ECS calls Spot fallback makes: one service at a time, the cluster's capacity providers, strategies, and EC2
container instances."""

from __future__ import annotations

from typing import Any

from steward.adapters.ecs import Ecs, batched, cluster_name, service_strategy, service_tags
from steward.domain.services import Strategy
from steward.domain.spot import ContainerInstance, SpotService

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


def spot_service(cluster: str, raw: dict[str, Any]) -> SpotService:
    return SpotService(
        cluster=cluster,
        name=raw["serviceName"],
        desired_count=int(raw.get("desiredCount", 0)),
        strategy=service_strategy(raw),
        tags=service_tags(raw),
        launch_type=raw.get("launchType", "") if not raw.get("capacityProviderStrategy") else "",
        deployment_controller=(raw.get("deploymentController") or {}).get("type", "ECS"),
        status=raw.get("status", "ACTIVE"),
        arn=raw.get("serviceArn", ""),
    )
