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


# The platform's PostgreSQL: one RDS instance and one Aurora cluster (with its writer), on the services' schedule.
DATABASE = "pyairtable-dev-db"
AURORA_CLUSTER = "pyairtable-dev-aurora"
AURORA_WRITER = "pyairtable-dev-aurora-1"


def create_database(
    rds: Any, identifier: str, *, engine: str = "postgres", tags: dict[str, str] | None = None, **extra: Any
) -> None:
    """An RDS DB instance in the dev stack's scope (steward:environment=dev) with `tags`."""
    all_tags = {"service": "postgres", "steward:environment": "dev", **(tags or {})}
    arguments: dict[str, Any] = {
        "DBInstanceIdentifier": identifier,
        "Engine": engine,
        "DBInstanceClass": "db.t4g.medium",
        "Tags": [{"Key": key, "Value": value} for key, value in all_tags.items()],
        **extra,
    }
    if "DBClusterIdentifier" not in extra:
        arguments.update(AllocatedStorage=20, MasterUsername="steward", MasterUserPassword="not-a-real-secret")
    rds.create_db_instance(**arguments)


def create_aurora_cluster(
    rds: Any, identifier: str, *, writer: str | None = None, tags: dict[str, str] | None = None, **extra: Any
) -> None:
    """An Aurora PostgreSQL cluster in the dev stack's scope, with one writer instance (db.r6g.large)."""
    all_tags = {"service": "postgres", "steward:environment": "dev", **(tags or {})}
    rds.create_db_cluster(
        DBClusterIdentifier=identifier,
        Engine=extra.pop("Engine", "aurora-postgresql"),
        MasterUsername="steward",
        MasterUserPassword="not-a-real-secret",
        Tags=[{"Key": key, "Value": value} for key, value in all_tags.items()],
        **extra,
    )
    if writer:
        rds.create_db_instance(
            DBInstanceIdentifier=writer,
            DBClusterIdentifier=identifier,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        )


def seed_databases(session: Any, *, schedule: str | None = "office-hours") -> None:
    """The platform's PostgreSQL on RDS and on Aurora, on the services' schedule when `schedule` is given."""
    rds = session.client("rds")
    tags = {"steward:schedule": schedule} if schedule else {}
    create_database(rds, DATABASE, tags=tags)
    create_aurora_cluster(rds, AURORA_CLUSTER, writer=AURORA_WRITER, tags=tags)


def database_states(session: Any) -> dict[str, str]:
    """'instance/ID' and 'cluster/ID' -> status, as RDS reports it."""
    rds = session.client("rds")
    states = {
        f"instance/{db['DBInstanceIdentifier']}": db["DBInstanceStatus"]
        for db in rds.describe_db_instances()["DBInstances"]
    }
    states.update(
        {f"cluster/{c['DBClusterIdentifier']}": c["Status"] for c in rds.describe_db_clusters()["DBClusters"]}
    )
    return states
