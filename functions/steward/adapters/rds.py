"""RDS: finding the stack's databases in one paged sweep each of instances and clusters, and stopping and starting
them.

DescribeDBInstances and DescribeDBClusters return each database's tags (TagList) and take at most 100 records a
page (RDS API Reference, MaxRecords: minimum 20, maximum 100), so a tick reads D databases in ceil(D/100) requests
per kind, with no per-database tag call.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from botocore.exceptions import ClientError

from steward.adapters.aws import AwsClients
from steward.domain.databases import (
    CLUSTER,
    INSTANCE,
    ClusterFacts,
    DatabaseView,
    InstanceFacts,
    cluster_refusal,
    instance_refusal,
)
from steward.domain.scope import Scope, environment_of

PAGE_SIZE = 100
FIND_ACTIONS = frozenset({"rds:DescribeDBInstances", "rds:DescribeDBClusters"})
START_ACTIONS = frozenset({"rds:StartDBInstance", "rds:StartDBCluster"})
STOP_START_ACTIONS = START_ACTIONS | {"rds:StopDBInstance", "rds:StopDBCluster"}


def tags_of(raw: dict[str, Any]) -> dict[str, str]:
    return {str(tag["Key"]): str(tag.get("Value", "")) for tag in raw.get("TagList") or []}


def instance_view(raw: dict[str, Any]) -> DatabaseView:
    engine = str(raw.get("Engine", ""))
    replicas = tuple(raw.get("ReadReplicaDBInstanceIdentifiers") or ()) + tuple(
        raw.get("ReadReplicaDBClusterIdentifiers") or ()
    )
    facts = InstanceFacts(
        engine=engine,
        cluster=str(raw.get("DBClusterIdentifier") or ""),
        replica_of=str(
            raw.get("ReadReplicaSourceDBInstanceIdentifier") or raw.get("ReadReplicaSourceDBClusterIdentifier") or ""
        ),
        replicas=replicas,
        multi_az=bool(raw.get("MultiAZ")),
    )
    return DatabaseView(
        kind=INSTANCE,
        identifier=str(raw["DBInstanceIdentifier"]),
        arn=str(raw.get("DBInstanceArn", "")),
        engine=engine,
        status=str(raw.get("DBInstanceStatus", "")),
        tags=tags_of(raw),
        classes=(str(raw.get("DBInstanceClass", "")),),
        refusal=instance_refusal(facts),
    )


def cluster_view(raw: dict[str, Any], member_classes: dict[str, str]) -> DatabaseView:
    members = [str(member["DBInstanceIdentifier"]) for member in raw.get("DBClusterMembers") or []]
    facts = ClusterFacts(
        engine=str(raw.get("Engine", "")),
        engine_mode=str(raw.get("EngineMode") or "provisioned"),
        replica_of=str(raw.get("ReplicationSourceIdentifier") or ""),
        replicas=tuple(raw.get("ReadReplicaIdentifiers") or ()),
        global_cluster=str(raw.get("GlobalClusterIdentifier") or ""),
    )
    return DatabaseView(
        kind=CLUSTER,
        identifier=str(raw["DBClusterIdentifier"]),
        arn=str(raw.get("DBClusterArn", "")),
        engine=facts.engine,
        status=str(raw.get("Status", "")),
        tags=tags_of(raw),
        classes=tuple(sorted(member_classes[member] for member in members if member in member_classes)),
        refusal=cluster_refusal(facts),
    )


class Rds:
    def __init__(self, aws: AwsClients) -> None:
        self._aws = aws

    def _pages(self, operation: str, key: str) -> Iterator[dict[str, Any]]:
        paginator = self._aws.rds.get_paginator(operation)
        for page in paginator.paginate(PaginationConfig={"PageSize": PAGE_SIZE}):
            yield from page.get(key, [])

    def databases_in(self, scope: Scope, held: Collection[str] = ()) -> list[DatabaseView]:
        """The stack's databases: those whose steward:environment is its environment, and the ones it holds (they
        only come back). A stack limited to named clusters leaves databases to its environment's other stack."""
        instances = list(self._pages("describe_db_instances", "DBInstances"))
        clusters = list(self._pages("describe_db_clusters", "DBClusters"))
        member_classes = {
            str(raw["DBInstanceIdentifier"]): str(raw.get("DBInstanceClass", ""))
            for raw in instances
            if raw.get("DBClusterIdentifier")
        }
        views = [instance_view(raw) for raw in instances] + [cluster_view(raw, member_classes) for raw in clusters]
        return [view for view in views if view.key in held or _ours(scope, view)]

    def database(self, key: str) -> DatabaseView:
        """One database by its key ('instance/ID' or 'cluster/ID'): one Describe call; a gone view if RDS has none."""
        kind, _, identifier = key.partition("/")
        try:
            if kind == INSTANCE:
                found = self._aws.rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
                return instance_view(found[0])
            found = self._aws.rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"]
            return cluster_view(found[0], {})
        except ClientError as error:
            if error.response["Error"]["Code"] in ("DBInstanceNotFound", "DBClusterNotFoundFault"):
                return DatabaseView(kind, identifier, "", "", "", {}, exists=False)
            raise

    def stop(self, db: DatabaseView) -> None:
        if db.kind == INSTANCE:
            self._aws.rds.stop_db_instance(DBInstanceIdentifier=db.identifier)
        else:
            self._aws.rds.stop_db_cluster(DBClusterIdentifier=db.identifier)

    def start(self, db: DatabaseView) -> None:
        if db.kind == INSTANCE:
            self._aws.rds.start_db_instance(DBInstanceIdentifier=db.identifier)
        else:
            self._aws.rds.start_db_cluster(DBClusterIdentifier=db.identifier)


def _ours(scope: Scope, view: DatabaseView) -> bool:
    return not scope.clusters and environment_of(view.tags, {}) == scope.environment
