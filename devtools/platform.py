"""The reference platform, seeded into moto: cluster pyairtable-dev with its eight services, their tags and
auto scaling targets. Used by the tests, the demo and the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's default account
CLUSTER = "pyairtable-dev"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    desired: int
    cpu: str = "256"
    memory: str = "512"
    target: tuple[int, int] | None = None  # (min, max) of its scalable target
    spot: bool = True


REFERENCE_SERVICES = (
    ServiceSpec("api-gateway", 2, "512", "1024", target=(2, 8), spot=False),
    ServiceSpec("airtable-gateway", 1, target=(1, 4)),
    ServiceSpec("mcp-server", 1),
    ServiceSpec("llm-orchestrator", 2, "1024", "2048", target=(1, 6)),
    ServiceSpec("platform-services", 2, "512", "1024", target=(2, 4), spot=False),
    ServiceSpec("automation-services", 1),
    ServiceSpec("saga-orchestrator", 1),
    ServiceSpec("frontend", 2, target=(2, 4)),
)


def create_service(
    ecs: Any,
    autoscaling: Any,
    spec: ServiceSpec,
    *,
    cluster: str = CLUSTER,
    tags: dict[str, str] | None = None,
    scheduling_strategy: str = "REPLICA",
) -> str:
    family = spec.name
    ecs.register_task_definition(
        family=family,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu=spec.cpu,
        memory=spec.memory,
        containerDefinitions=[
            {"name": spec.name, "image": f"public.ecr.aws/pyairtable/{spec.name}:1", "essential": True}
        ],
    )
    # steward:environment puts the service in the dev stack's scope (the stack the tests and the demo run as).
    all_tags = {"service": spec.name, "env": "dev", "steward:environment": "dev", **(tags or {})}
    arguments: dict[str, Any] = {
        "cluster": cluster,
        "serviceName": spec.name,
        "taskDefinition": family,
        "schedulingStrategy": scheduling_strategy,
        "tags": [{"key": key, "value": value} for key, value in all_tags.items()],
    }
    if scheduling_strategy != "DAEMON":
        arguments["desiredCount"] = spec.desired
    arn: str = ecs.create_service(**arguments)["service"]["serviceArn"]
    if spec.target is not None:
        autoscaling.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/{cluster}/{spec.name}",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=spec.target[0],
            MaxCapacity=spec.target[1],
        )
    return arn


def seed_reference_platform(
    session: Any,
    *,
    cluster: str = CLUSTER,
    schedule: str | None = "office-hours",
    services: tuple[ServiceSpec, ...] = REFERENCE_SERVICES,
) -> dict[str, str]:
    """Create the cluster and its services; every service carries steward:schedule when `schedule` is given."""
    ecs = session.client("ecs")
    autoscaling = session.client("application-autoscaling")
    ecs.create_cluster(clusterName=cluster, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    tags = {"steward:schedule": schedule} if schedule else {}
    return {spec.name: create_service(ecs, autoscaling, spec, cluster=cluster, tags=tags) for spec in services}


def service_sizes(session: Any, cluster: str = CLUSTER) -> dict[str, dict[str, Any]]:
    """desired count and scalable target (min, max, suspended) of every service in the cluster."""
    ecs = session.client("ecs")
    autoscaling = session.client("application-autoscaling")
    arns = ecs.list_services(cluster=cluster)["serviceArns"]
    sizes: dict[str, dict[str, Any]] = {}
    for start in range(0, len(arns), 10):
        for service in ecs.describe_services(cluster=cluster, services=arns[start : start + 10])["services"]:
            sizes[service["serviceName"]] = {"desired": service["desiredCount"], "target": None}
    for target in autoscaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]:
        _, target_cluster, name = target["ResourceId"].split("/")
        if target_cluster == cluster and name in sizes:
            suspended = target.get("SuspendedState") or {}
            sizes[name]["target"] = (target["MinCapacity"], target["MaxCapacity"], any(suspended.values()))
    return sizes
