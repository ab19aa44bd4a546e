"""RiskScorer: the Serve deployment that holds the active models and computes scores.

Single-building computes from many gateway requests are gathered with `@serve.batch` into one model call;
a batch request (up to 1000 buildings) is one call already. Stale scores are recomputed in the background,
one recompute in flight per building. The model is reloaded when the `models` table shows a promotion
(checked at most every VS_API_MODEL_POLL_SECONDS, on use and on status).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
from ray import serve

from deployments.cache import Cache
from deployments.config import import_loader, resolve
from deployments.metrics import RayMetrics
from deployments.pool_gauges import PoolReporter
from deployments.risk.client import Refresher, compute
from deployments.risk.store import ScoreStore
from sentinel.db.pool import create_pool
from sentinel.risk.service import ScoreService


@serve.deployment(
    name="RiskScorer",
    logging_config={"enable_access_log": False},
    ray_actor_options={"num_cpus": 0.25},
    max_ongoing_requests=64,
    autoscaling_config={"min_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 16},
    health_check_period_s=5,
)
class RiskScorer:
    def __init__(self, args: dict[str, Any]) -> None:
        cfg = resolve(args)
        self.pool = create_pool(cfg.database_url, min_size=1, max_size=cfg.pool_size, name="risk-scorer")
        self.metrics = RayMetrics()
        self.pool_reporter = PoolReporter(self.pool, self.metrics, "risk-scorer")
        store = ScoreStore(
            self.pool, Cache(cfg.redis_url), cfg.api.score_cache_seconds, self.metrics, cfg.api.redis_prefix
        )
        self.service = ScoreService(
            self.pool.connection,
            model_dir=cfg.artifacts,
            loader=import_loader(cfg.model_loader),
            poll_seconds=cfg.api.model_poll_seconds,
            remember=store.remember,
        )
        self.refresher = Refresher()

    async def _compute_now(self, bbls: list[str]) -> dict[str, Any]:
        self.metrics.batch_size(len(bbls))
        return await compute(self.service, bbls)

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005)
    async def _compute_batched(self, bbls: list[str]) -> list[dict[str, Any]]:
        result = await self._compute_now(list(dict.fromkeys(bbls)))
        by_bbl = {s.bbl: s for s in result["scores"]}
        return [{"scores": [by_bbl[b]] if b in by_bbl else [], "unavailable": result["unavailable"]} for b in bbls]

    async def compute(self, bbls: Sequence[str]) -> dict[str, Any]:
        if len(bbls) == 1:
            return await self._compute_batched(bbls[0])
        return await self._compute_now(list(bbls))

    async def refresh(self, bbls: Sequence[str]) -> int:
        self.refresher.start(list(bbls), self._compute_now)
        return len(self.refresher.in_flight)

    async def status(self) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(self.service.status)

    def __del__(self) -> None:
        reporter = getattr(self, "pool_reporter", None)
        if reporter is not None:
            reporter.close()
        pool = getattr(self, "pool", None)
        if pool is not None:
            pool.close()
