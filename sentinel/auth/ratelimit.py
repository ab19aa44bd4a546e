"""Per-caller rate limiting: a moving window in Redis, shared by all replicas, with an in-memory fallback.

The algorithm and both storages come from the `limits` library (the one Flask-Limiter and SlowAPI use):
its Redis moving window is a Lua script, so the check-and-record is atomic across replicas.

Redis is a dependency we can live without for a while: when it is unreachable the limiter switches to the
same algorithm in this process's memory, so the API keeps answering and keeps limiting (each replica
separately, so the effective limit is N times higher during an outage, and counts do not carry over when
Redis returns). Redis is tried again only after `retry_after_seconds`, not on every request, so an outage
does not add a connect timeout to each request.

Timestamps are the replicas' own clocks (as in `limits`): keep them NTP-synchronized.
"""

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import redis
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis.backoff import NoBackoff
from redis.retry import Retry

from sentinel.auth.principal import Principal

log = logging.getLogger(__name__)

Backend = Literal["redis", "memory"]


@dataclass(frozen=True, slots=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int
    retry_after: float  # seconds until a request would be allowed again; 0 when allowed
    backend: Backend

    @property
    def retry_after_header(self) -> str:
        """The value for the HTTP Retry-After header: whole seconds, at least 1 when refused."""
        return str(max(1, math.ceil(self.retry_after))) if not self.allowed else "0"


@lru_cache(maxsize=256)
def parse_limit(limit: str) -> RateLimitItem:
    """A limit from its text form, e.g. "120/minute", "10/second", "1000 per hour"."""
    return parse(limit)


def rate_limit_key(principal: Principal | None = None, ip: str | None = None) -> str:
    """The bucket a request is counted in: its API key, else its user, else its client IP."""
    if principal is not None and principal.key_id is not None:
        return f"key:{principal.key_id}"
    if principal is not None and principal.user_id is not None:
        return f"user:{principal.user_id}"
    if ip:
        return f"ip:{ip}"
    raise ValueError("a rate-limit key needs a principal or a client IP")


class RateLimiter:
    def __init__(
        self,
        redis_url: str,
        *,
        key_prefix: str = "vs:ratelimit",
        retry_after_seconds: float = 5.0,
        socket_timeout: float = 0.25,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        # No retries inside redis-py: the fallback is our retry policy; a request must not wait on reconnects.
        pool = redis.ConnectionPool.from_url(
            redis_url,
            socket_connect_timeout=socket_timeout,
            socket_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 0),
        )
        storage = RedisStorage(redis_url, connection_pool=pool, key_prefix=key_prefix, wrap_exceptions=True)
        self._redis = MovingWindowRateLimiter(storage)
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self._retry_after_seconds = retry_after_seconds
        self._monotonic = monotonic
        self._redis_down_until: float | None = None

    @property
    def backend(self) -> Backend:
        """Where the next request will be counted (the Redis retry may still switch it back)."""
        return "memory" if self._redis_down_until is not None else "redis"

    def hit(self, limit: str | RateLimitItem, key: str) -> RateLimitResult:
        """Count one request of `key` against `limit` and say whether it is allowed."""
        return self._run(limit, key, self._hit)

    def peek(self, limit: str | RateLimitItem, key: str) -> RateLimitResult:
        """Whether one more hit of `key` would be allowed now, without counting it (for limits that count only
        failures: check before the attempt, `hit` after a failure)."""
        return self._run(limit, key, self._peek)

    def clear(self, limit: str | RateLimitItem, key: str) -> None:
        """Forget `key`'s window for `limit` (a success that ends a run of failures)."""

        def clear(limiter: MovingWindowRateLimiter, item: RateLimitItem, key: str, backend: Backend) -> None:
            limiter.clear(item, key)

        self._run(limit, key, clear)

    def _run(self, limit: str | RateLimitItem, key: str, operation: Callable[..., Any]) -> Any:
        item = parse_limit(limit) if isinstance(limit, str) else limit
        if self._redis_down_until is None or self._monotonic() >= self._redis_down_until:
            try:
                result = operation(self._redis, item, key, "redis")
            except StorageError as exc:
                self._mark_redis_down(exc)
            else:
                if self._redis_down_until is not None:
                    log.warning("rate limiter: Redis is back, leaving the in-memory fallback")
                    self._redis_down_until = None
                return result
        return operation(self._memory, item, key, "memory")

    def _mark_redis_down(self, exc: StorageError) -> None:
        if self._redis_down_until is None:
            log.warning(
                "rate limiter: Redis unavailable (%r), limiting in memory; retrying Redis every %.1fs",
                exc.storage_error,
                self._retry_after_seconds,
            )
        self._redis_down_until = self._monotonic() + self._retry_after_seconds

    @staticmethod
    def _hit(limiter: MovingWindowRateLimiter, item: RateLimitItem, key: str, backend: Backend) -> RateLimitResult:
        allowed = limiter.hit(item, key)
        stats = limiter.get_window_stats(item, key)
        retry_after = 0.0 if allowed else max(0.0, stats.reset_time - time.time())
        return RateLimitResult(allowed, item.amount, max(0, stats.remaining), retry_after, backend)

    @staticmethod
    def _peek(limiter: MovingWindowRateLimiter, item: RateLimitItem, key: str, backend: Backend) -> RateLimitResult:
        stats = limiter.get_window_stats(item, key)
        allowed = stats.remaining > 0
        retry_after = 0.0 if allowed else max(0.0, stats.reset_time - time.time())
        return RateLimitResult(allowed, item.amount, max(0, stats.remaining), retry_after, backend)
