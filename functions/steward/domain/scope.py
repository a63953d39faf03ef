"""A stack's scope: the services it acts on. Pure: no AWS, no clock.

A service is in scope when its `steward:environment` tag (on the service; if the service has none, on its cluster)
names the stack's environment, and its cluster is one the stack names (or the stack names none). A service with no
steward:environment anywhere is in no scope: no stack touches it, except to bring back what that stack itself holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from msgspec import Struct

ENVIRONMENT_TAG = "steward:environment"


class Scope(Struct, frozen=True):
    environment: str
    clusters: frozenset[str] = frozenset()  # cluster names; empty: every cluster in the region

    @classmethod
    def of(cls, environment: str, clusters: Iterable[str] = ()) -> Scope:
        return cls(environment.strip().lower(), frozenset(name.strip() for name in clusters if name.strip()))

    @property
    def label(self) -> str:
        """'dev · clusters: a, b' or 'dev · all clusters': how Slack, the log and `steward plan` name the scope."""
        where = f"clusters: {', '.join(sorted(self.clusters))}" if self.clusters else "all clusters"
        return f"{self.environment} · {where}"

    def names_cluster(self, cluster: str) -> bool:
        return not self.clusters or cluster in self.clusters

    def covers(self, cluster: str, service_tags: Mapping[str, str], cluster_tags: Mapping[str, str] | None) -> bool:
        """Whether the service is this stack's; `cluster_tags` None means the cluster's tags were not read."""
        if not self.names_cluster(cluster):
            return False
        return environment_of(service_tags, cluster_tags or {}) == self.environment

    def needs_cluster_tags(self, cluster: str, service_tags: Mapping[str, str]) -> bool:
        """Only a service without its own steward:environment, in a named cluster, is decided by its cluster's tag."""
        return self.names_cluster(cluster) and _tag(service_tags) is None

    def why_not(self, cluster: str, service_tags: Mapping[str, str], cluster_tags: Mapping[str, str] | None) -> str:
        """Why a service is outside this scope, in the words the log uses."""
        if not self.names_cluster(cluster):
            return f"cluster {cluster} is not in this stack's scope ({self.label})"
        found = environment_of(service_tags, cluster_tags or {})
        if found is None:
            return f"no {ENVIRONMENT_TAG} tag on the service or its cluster; no stack acts on it"
        return f"{ENVIRONMENT_TAG}={found} is not this stack's environment ({self.label})"


def environment_of(service_tags: Mapping[str, str], cluster_tags: Mapping[str, str]) -> str | None:
    """The service's environment: its own tag, else its cluster's; compared case-insensitively, spaces ignored."""
    own = _tag(service_tags)
    return own if own is not None else _tag(cluster_tags)


def _tag(tags: Mapping[str, str]) -> str | None:
    value = tags.get(ENVIRONMENT_TAG)
    return value.strip().lower() or None if value is not None else None
