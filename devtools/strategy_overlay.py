"""moto keeps no capacity provider strategy on ECS services (create_service and update_service drop it, and
describe_services never returns it). This wrapper around a real (moto-backed) ECS client keeps each service's
strategy itself and adds it to DescribeServices, so the Spot fallback can be exercised end to end; every other
call goes to moto unchanged. Tests that use it say so."""

from __future__ import annotations

from collections import Counter
from typing import Any


class StrategyOverlay:
    def __init__(self, client: Any) -> None:
        self._client = client
        self.strategies: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.updates: list[dict[str, Any]] = []
        self.calls: Counter[str] = Counter()
        self.meta = client.meta

    @staticmethod
    def _key(cluster: str, service: str) -> tuple[str, str]:
        return cluster.rsplit("/", 1)[-1], service.rsplit("/", 1)[-1]

    def set_strategy(self, cluster: str, service: str, strategy: list[dict[str, Any]]) -> None:
        self.strategies[self._key(cluster, service)] = [{"base": 0, "weight": 0, **item} for item in strategy]

    def describe_services(self, **kwargs: Any) -> Any:
        self.calls["describe_services"] += 1
        response = self._client.describe_services(**kwargs)
        for service in response.get("services", []):
            strategy = self.strategies.get(self._key(kwargs.get("cluster", "default"), service["serviceName"]))
            if strategy is not None:
                service["capacityProviderStrategy"] = [dict(item) for item in strategy]
                service.pop("launchType", None)
        return response

    def update_service(self, **kwargs: Any) -> Any:
        self.calls["update_service"] += 1
        self.updates.append(kwargs)
        strategy = kwargs.pop("capacityProviderStrategy", None)
        if strategy is not None:
            self.set_strategy(kwargs.get("cluster", "default"), kwargs["service"], strategy)
        return self._client.update_service(**kwargs)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if callable(attribute):

            def counted(*args: Any, **kwargs: Any) -> Any:
                self.calls[name] += 1
                return attribute(*args, **kwargs)

            return counted
        return attribute
