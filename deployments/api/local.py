"""Everything in one process: the deps for plain uvicorn (benchmarks, fast tests, a laptop without Ray)."""

from __future__ import annotations

from pathlib import Path

from deployments.alerts.client import LocalAlerts
from deployments.api.deps import Deps
from deployments.api.exports import ExportGate
from deployments.api.settings import ApiSettings
from deployments.cache import Cache
from deployments.metrics import Metrics, NullMetrics
from deployments.risk.client import LocalScorer
from deployments.risk.store import ScoreStore
from sentinel.alerts.on_demand import OnDemandAlerts
from sentinel.artifact_store import ArtifactStore
from sentinel.auth.ratelimit import RateLimiter
from sentinel.auth.strength import check_signing_secret
from sentinel.db.pool import create_pool
from sentinel.risk.scoring import ModelLoader, load_active_models
from sentinel.risk.service import ScoreService

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # with no Redis configured, the limiter runs in memory


def local_deps(
    *,
    database_url: str,
    redis_url: str | None,
    jwt_secret: str,
    settings: ApiSettings | None = None,
    model_loader: ModelLoader = load_active_models,
    model_dir: ArtifactStore | Path = Path("models"),
    pool_size: int = 8,
    metrics: Metrics | None = None,
) -> Deps:
    check_signing_secret(jwt_secret)
    settings = settings or ApiSettings()
    metrics = metrics or NullMetrics()
    pool = create_pool(database_url, min_size=1, max_size=pool_size, name="api")
    cache = Cache(redis_url)
    store = ScoreStore(pool, cache, settings.score_cache_seconds, metrics, settings.redis_prefix)
    service = ScoreService(
        pool.connection,
        model_dir=model_dir,
        loader=model_loader,
        poll_seconds=settings.model_poll_seconds,
        remember=store.remember,
    )
    deps = Deps(
        settings=settings,
        pool=pool,
        cache=cache,
        limiter=RateLimiter(redis_url or UNREACHABLE_REDIS, key_prefix=f"{settings.redis_prefix}:ratelimit"),
        jwt_secret=jwt_secret,
        scores=store,
        scorer=LocalScorer(service),
        alerts=LocalAlerts(OnDemandAlerts(pool.connection)),
        exports=(exports := ExportGate.create(database_url, redis_url, settings, "api")),
        metrics=metrics,
    )
    deps.closers += [pool.close, cache.close, exports.close]
    return deps
