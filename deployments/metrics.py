"""What the API measures. The Serve deployments record through `ray.util.metrics` (exported by Ray's Prometheus
endpoint); under plain uvicorn the no-op recorder is used. Route labels are templates (/v1/properties/{bbl}),
never raw paths, so label cardinality stays bounded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

# psycopg_pool's get_stats() measures, exported as vs_db_pool_<key less its pool_ prefix>{pool}. A pool with
# requests waiting and no idle connection is exhausted: they fail with a pool timeout after 30 s (db/pool.py).
POOL_GAUGES = {
    "pool_size": "connections the pool holds",
    "pool_available": "idle connections in the pool",
    "pool_max": "most connections the pool may hold",
    "requests_waiting": "requests waiting for a connection now",
}


class Metrics(Protocol):
    def request(self, route: str, method: str, status: int, seconds: float) -> None: ...
    def cache(self, kind: str, hit: bool) -> None: ...
    def batch_size(self, size: int) -> None: ...
    def rate_limited(self, bucket: str) -> None: ...
    def pool(self, name: str, stats: Mapping[str, int]) -> None: ...


class NullMetrics:
    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        pass

    def cache(self, kind: str, hit: bool) -> None:
        pass

    def batch_size(self, size: int) -> None:
        pass

    def rate_limited(self, bucket: str) -> None:
        pass

    def pool(self, name: str, stats: Mapping[str, int]) -> None:
        pass


class RayMetrics:
    """Prometheus metrics through ray.util.metrics; create one per replica (inside the deployment)."""

    def __init__(self) -> None:
        from ray.util import metrics

        self._requests = metrics.Counter(
            "vs_api_requests", "API requests by route, method and status", tag_keys=("route", "method", "status")
        )
        self._latency = metrics.Histogram(
            "vs_api_request_seconds",
            "API request latency",
            boundaries=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
            tag_keys=("route", "method"),
        )
        self._cache = metrics.Counter("vs_api_cache", "cache lookups by kind and result", tag_keys=("kind", "result"))
        self._batch = metrics.Histogram(
            "vs_scorer_batch_size", "buildings per scorer batch", boundaries=[1, 2, 4, 8, 16, 32, 64, 128, 512, 1024]
        )
        self._limited = metrics.Counter("vs_api_rate_limited", "requests refused with 429", tag_keys=("bucket",))
        self._pool_gauges = {
            key: metrics.Gauge(f"vs_db_pool_{key.removeprefix('pool_')}", f"database pool: {doc}", tag_keys=("pool",))
            for key, doc in POOL_GAUGES.items()
        }

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        self._requests.inc(1, {"route": route, "method": method, "status": str(status)})
        self._latency.observe(seconds, {"route": route, "method": method})

    def cache(self, kind: str, hit: bool) -> None:
        self._cache.inc(1, {"kind": kind, "result": "hit" if hit else "miss"})

    def batch_size(self, size: int) -> None:
        self._batch.observe(size)

    def rate_limited(self, bucket: str) -> None:
        self._limited.inc(1, {"bucket": bucket})

    def pool(self, name: str, stats: Mapping[str, int]) -> None:
        tags = {"pool": name}
        for key, gauge in self._pool_gauges.items():
            gauge.set(stats.get(key, 0), tags)
