"""What moto's ECS does not keep, kept beside it.

moto drops a service's capacity provider strategy (create_service, update_service, describe_services), does not
maintain the `deployments` list when a service is updated, has no ListServiceDeployments or StopServiceDeployment,
ignores ListContainerInstances' filter and keeps no capacity provider on container instances. EcsOverlay wraps a
real (moto-backed) ECS client, keeps those pieces itself and adds them to the answers; every other call reaches moto
unchanged. Tests and the demo that use it say so."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime
from typing import Any

_ids = itertools.count(5_000_000_000_000_000)


class EcsOverlay:
    def __init__(self, client: Any) -> None:
        self._client = client
        self.strategies: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.instance_providers: dict[str, str] = {}  # container instance ARN → capacity provider name
        self.deployments: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.updates: list[dict[str, Any]] = []
        self.stopped_deployments: list[dict[str, Any]] = []
        self.calls: Counter[str] = Counter()
        self.meta = client.meta
        # The demo does not model rollout time: deployments that updates start reach steady state at once.
        self.complete_updates = False

    @staticmethod
    def _key(cluster: str, service: str) -> tuple[str, str]:
        return cluster.rsplit("/", 1)[-1], service.rsplit("/", 1)[-1]

    # -------------------------------------------------------------------- what tests and the demo arrange

    def set_strategy(self, cluster: str, service: str, strategy: list[dict[str, Any]]) -> None:
        self.strategies[self._key(cluster, service)] = [{"base": 0, "weight": 0, **item} for item in strategy]

    def current_strategy(self, cluster: str, service: str) -> list[dict[str, Any]] | None:
        """The service's strategy as kept here (None: moto's answer stands), read without an ECS request."""
        kept = self.strategies.get(self._key(cluster, service))
        return None if kept is None else [dict(item) for item in kept]

    def deploy(self, cluster: str, service: str, task_definition: str, at: datetime | None = None) -> str:
        """A new PRIMARY deployment, rolling out; the previous PRIMARY becomes ACTIVE."""
        deployment_id = f"ecs-svc/{next(_ids)}"
        history = self.deployments.setdefault(self._key(cluster, service), [])
        for deployment in history:
            if deployment["status"] == "PRIMARY":
                deployment["status"] = "ACTIVE"
        created = at or datetime.now(UTC)
        history.append(
            {
                "id": deployment_id,
                "status": "PRIMARY",
                "taskDefinition": task_definition,
                "rolloutState": "IN_PROGRESS",
                "createdAt": created,
                "updatedAt": created,
            }
        )
        return deployment_id

    def complete(self, cluster: str, service: str) -> str:
        """The PRIMARY deployment reaches steady state; the older ones drain away."""
        history = self.deployments[self._key(cluster, service)]
        primary = next(d for d in history if d["status"] == "PRIMARY")
        primary["rolloutState"] = "COMPLETED"
        self.deployments[self._key(cluster, service)] = [primary]
        return str(primary["id"])

    # -------------------------------------------------------------------- the ECS API

    def describe_services(self, **kwargs: Any) -> Any:
        self.calls["describe_services"] += 1
        response = self._client.describe_services(**kwargs)
        for service in response.get("services", []):
            key = self._key(kwargs.get("cluster", "default"), service["serviceName"])
            if key in self.strategies:
                service["capacityProviderStrategy"] = [dict(item) for item in self.strategies[key]]
                service.pop("launchType", None)
            if key in self.deployments:
                service["deployments"] = [dict(item) for item in self.deployments[key]]
                primary = next(d for d in self.deployments[key] if d["status"] == "PRIMARY")
                service["taskDefinition"] = primary["taskDefinition"]
        return response

    def update_service(self, **kwargs: Any) -> Any:
        self.calls["update_service"] += 1
        self.updates.append(dict(kwargs))
        cluster, service = kwargs.get("cluster", "default"), kwargs["service"]
        strategy = kwargs.pop("capacityProviderStrategy", None)
        if strategy is not None:
            self.set_strategy(cluster, service, strategy)
        response = self._client.update_service(**kwargs)
        new_definition = kwargs.get("taskDefinition")
        if new_definition or strategy is not None or kwargs.get("forceNewDeployment"):
            current = response["service"]["taskDefinition"]
            if new_definition and not new_definition.startswith("arn:"):
                current = self._client.describe_task_definition(taskDefinition=new_definition)["taskDefinition"][
                    "taskDefinitionArn"
                ]
            self.deploy(cluster, service, current)
            if self.complete_updates:
                self.complete(cluster, service)
        return response

    def list_container_instances(self, **kwargs: Any) -> Any:
        self.calls["list_container_instances"] += 1
        wanted = (kwargs.pop("filter", "") or "").partition("ec2InstanceId ==")[2].strip()
        response = self._client.list_container_instances(**kwargs)
        arns = response.get("containerInstanceArns", [])
        if wanted and arns:
            described = self._client.describe_container_instances(
                cluster=kwargs.get("cluster", "default"), containerInstances=arns
            )
            arns = [
                ci["containerInstanceArn"]
                for ci in described["containerInstances"]
                if ci.get("ec2InstanceId") == wanted
            ]
        return {**response, "containerInstanceArns": arns}

    def describe_container_instances(self, **kwargs: Any) -> Any:
        self.calls["describe_container_instances"] += 1
        response = self._client.describe_container_instances(**kwargs)
        for instance in response.get("containerInstances", []):
            provider = self.instance_providers.get(instance["containerInstanceArn"])
            if provider:
                instance["capacityProviderName"] = provider
        return response

    def list_service_deployments(self, **kwargs: Any) -> Any:
        self.calls["list_service_deployments"] += 1
        cluster, service = self._key(kwargs.get("cluster", "default"), kwargs["service"])
        wanted = set(kwargs.get("status") or ["IN_PROGRESS"])
        found = []
        for deployment in self.deployments.get((cluster, service), []):
            if deployment["rolloutState"] in wanted and deployment["status"] == "PRIMARY":
                suffix = deployment["id"].rsplit("/", 1)[-1]
                arn = f"arn:aws:ecs:eu-central-1:123456789012:service-deployment/{cluster}/{service}/{suffix}"
                found.append({"serviceDeploymentArn": arn, "status": deployment["rolloutState"]})
        return {"serviceDeployments": found}

    def stop_service_deployment(self, **kwargs: Any) -> Any:
        self.calls["stop_service_deployment"] += 1
        self.stopped_deployments.append(dict(kwargs))
        return {"serviceDeploymentArn": kwargs["serviceDeploymentArn"]}

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if callable(attribute):

            def counted(*args: Any, **kwargs: Any) -> Any:
                self.calls[name] += 1
                return attribute(*args, **kwargs)

            return counted
        return attribute


def spot_service_behind_overlay(session: Any, name: str, strategy: list[dict[str, Any]]) -> EcsOverlay:
    """A cluster with one service opted in to Spot fallback on `strategy`, and the overlay that keeps the strategy."""
    from devtools.platform import CLUSTER, ServiceSpec, create_service

    # A strategy may name only providers associated with the cluster (ECS PutClusterCapacityProviders).
    session.client("ecs").create_cluster(clusterName=CLUSTER, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    tags = {"steward:spot-fallback": "on"}
    create_service(session.client("ecs"), session.client("application-autoscaling"), ServiceSpec(name, 2), tags=tags)
    overlay = EcsOverlay(session.client("ecs"))
    overlay.set_strategy(CLUSTER, name, strategy)
    return overlay
