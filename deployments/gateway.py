"""Gateway: the FastAPI ingress deployment. The app is `create_app(deps)`, built in the replica after its
resources (pool, Redis, limiter, handles) exist. Cached and stored reads are answered here; the RiskScorer and
AlertService are called only for real work (DESIGN.md: every hop costs on 2 cores)."""

from __future__ import annotations

import logging
import os
from typing import Any

from fastapi import FastAPI
from ray import serve

from deployments.api.app import create_app
from deployments.api.deps import Deps
from deployments.api.exports import ExportGate
from deployments.api.settings import ApiSettings
from deployments.cache import Cache
from deployments.config import resolve
from deployments.metrics import RayMetrics
from deployments.pool_gauges import PoolReporter
from deployments.remote import RemoteAlerts, RemoteScorer
from deployments.risk.store import ScoreStore
from sentinel import logs
from sentinel.auth.forwarded import LOOPBACK
from sentinel.auth.ratelimit import RateLimiter
from sentinel.db.pool import create_pool
from sentinel.settings import get_settings

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
log = logging.getLogger(__name__)


def behind_haproxy_defaults(api: ApiSettings) -> ApiSettings:
    """With Ray's HAProxy as the ingress and our launcher in front of it (it replaces X-Forwarded-For with the
    peer, cluster/haproxy_rules.py), the replica's peer is its node's HAProxy: believe loopback unless
    VS_API_TRUSTED_PROXIES says otherwise. Without the launcher HAProxy passes on whatever the client wrote, so
    nothing is believed (every client then looks like HAProxy: shared limits, but no forged address). Serve's
    Python proxy hands the client's own address over: nothing is believed there either."""
    if api.trusted_proxies is not None or os.environ.get("RAY_SERVE_ENABLE_HA_PROXY") != "1":
        return api
    if os.environ.get("VS_HAPROXY_SETS_FORWARDED_FOR") != "1":
        log.warning(
            "HAProxy ingress without vsentinel's HAProxy launcher: client addresses are HAProxy's own; start Ray "
            'after `eval "$(python -m cluster.ray_runtime)"` (ray-cluster.yaml) or set VS_API_TRUSTED_PROXIES'
        )
        return api
    return api.model_copy(update={"trusted_proxies": [str(net) for net in LOOPBACK]})


@serve.deployment(
    name="Gateway",
    # The gateway middleware logs every request once, with its request id; Serve's own access log would be a
    # second line per request (and per hop) on 2 cores.
    logging_config={"enable_access_log": False},
    ray_actor_options={"num_cpus": 0.5},
    max_ongoing_requests=128,
    num_replicas=1,
    health_check_period_s=5,
)
@serve.ingress()
class Gateway:
    def __init__(self, scorer: Any, alerts: Any, args: dict[str, Any]) -> None:
        cfg = resolve(args)
        api = behind_haproxy_defaults(cfg.api)
        settings = get_settings()
        logs.configure(settings.log_level, settings.log_format)
        metrics = RayMetrics()
        pool = create_pool(cfg.database_url, min_size=1, max_size=cfg.pool_size, name="gateway")
        cache = Cache(cfg.redis_url)
        self.deps = Deps(
            settings=api,
            pool=pool,
            cache=cache,
            limiter=RateLimiter(cfg.redis_url or UNREACHABLE_REDIS, key_prefix=f"{api.redis_prefix}:ratelimit"),
            jwt_secret=cfg.jwt_secret,
            scores=ScoreStore(pool, cache, api.score_cache_seconds, metrics, api.redis_prefix),
            scorer=RemoteScorer(scorer),
            alerts=RemoteAlerts(alerts),
            exports=(exports := ExportGate.create(cfg.database_url, cfg.redis_url, cfg.api, "gateway")),
            metrics=metrics,
        )
        reporter = PoolReporter(pool, metrics, "gateway")
        self.deps.closers += [reporter.close, pool.close, cache.close, exports.close]

    def __serve_build_asgi_app__(self) -> FastAPI:
        return create_app(self.deps, behind_serve_proxy=True)

    def __del__(self) -> None:
        deps = getattr(self, "deps", None)
        if deps is not None:
            deps.close()
