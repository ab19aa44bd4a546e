"""What the app is built from. `create_app(deps)` takes these; `local_deps` builds them for one process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from psycopg_pool import ConnectionPool

from deployments.api.exports import ExportGate
from deployments.api.settings import ApiSettings
from deployments.api.user_states import UserStates
from deployments.cache import Cache
from deployments.metrics import Metrics, NullMetrics
from deployments.risk.client import ScorerClient
from deployments.risk.store import ScoreStore
from sentinel.auth.ratelimit import RateLimiter
from sentinel.crypto import secrets_key_from_settings
from sentinel.outbound import OutboundPolicy, outbound_policy_from_env


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Deps:
    settings: ApiSettings
    pool: ConnectionPool
    cache: Cache
    limiter: RateLimiter
    jwt_secret: str
    scores: ScoreStore
    scorer: ScorerClient
    alerts: Any  # deployments.alerts.client.AlertClient
    exports: ExportGate
    metrics: Metrics = field(default_factory=NullMetrics)
    # What rule targets may point at (VS_OUTBOUND_*): checked when a rule is saved, as the notifier will.
    outbound: OutboundPolicy = field(default_factory=outbound_policy_from_env)
    # Seals organizations' webhook secrets (VS_SECRETS_KEY); None: they cannot have their own.
    secrets_key: bytes | None = field(default_factory=secrets_key_from_settings)
    now: Callable[[], datetime] = utcnow
    closers: list[Callable[[], None]] = field(default_factory=list)
    user_states: UserStates = field(init=False)

    def __post_init__(self) -> None:
        self.user_states = UserStates(
            self.pool, self.cache, self.settings.user_state_cache_seconds, self.settings.redis_prefix
        )

    def close(self) -> None:
        for close in reversed(self.closers):
            close()
