"""A Redis cache that fails open: when Redis is unreachable, reads miss and writes are dropped.

After a failure Redis is left alone for `retry_after_seconds`, so an outage does not add a connect timeout to
every request (the same policy as sentinel.auth.ratelimit).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)


class Cache:
    def __init__(
        self,
        redis_url: str | None,
        *,
        retry_after_seconds: float = 5.0,
        socket_timeout: float = 0.25,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = (
            redis.Redis.from_url(
                redis_url,
                socket_connect_timeout=socket_timeout,
                socket_timeout=socket_timeout,
                retry=Retry(NoBackoff(), 0),
            )
            if redis_url
            else None
        )
        self._retry_after = retry_after_seconds
        self._monotonic = monotonic
        self._down_until: float | None = None

    @property
    def available(self) -> bool:
        return self._client is not None and (self._down_until is None or self._monotonic() >= self._down_until)

    def _fail(self, exc: Exception) -> None:
        if self._down_until is None:
            log.warning(
                "cache: Redis unavailable (%r); serving without it, retrying every %.1fs", exc, self._retry_after
            )
        self._down_until = self._monotonic() + self._retry_after

    def _ok(self) -> None:
        if self._down_until is not None:
            log.warning("cache: Redis is back")
            self._down_until = None

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys or not self.available:
            return [None] * len(keys)
        try:
            values = self._client.mget(keys)  # type: ignore[union-attr]
        except redis.RedisError as exc:
            self._fail(exc)
            return [None] * len(keys)
        self._ok()
        return list(values)

    def set_many(self, items: dict[str, bytes], ttl_seconds: int) -> None:
        if not items or ttl_seconds <= 0 or not self.available:
            return
        try:
            pipe = self._client.pipeline(transaction=False)  # type: ignore[union-attr]
            for key, value in items.items():
                pipe.set(key, value, ex=ttl_seconds)
            pipe.execute()
        except redis.RedisError as exc:
            self._fail(exc)
        else:
            self._ok()

    def delete(self, keys: Sequence[str]) -> None:
        if not keys or not self.available:
            return
        try:
            self._client.delete(*keys)  # type: ignore[union-attr]
        except redis.RedisError as exc:
            self._fail(exc)

    def ping(self) -> bool:
        """A direct check for readiness: ignores the backoff."""
        if self._client is None:
            return False
        try:
            return bool(self._client.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
