"""Users' current state (sentinel.auth.user_state) for every authenticated request, through Redis.

Every replica reads the same Redis entry, kept `ttl_seconds` and dropped by whichever replica changes the user, so
a change takes effect at once on the replica that made it and within `ttl_seconds` everywhere else (a request that
read the old row just before the change may put it back for one TTL). Without Redis every read goes to
PostgreSQL: slower, never stale.
"""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from deployments.cache import Cache
from sentinel.auth.user_state import UserState, load_user_state


class UserStates:
    def __init__(self, pool: ConnectionPool, cache: Cache, ttl_seconds: int, prefix: str) -> None:
        self._pool, self._cache, self._ttl, self._prefix = pool, cache, ttl_seconds, prefix

    def _key(self, user_id: int) -> str:
        return f"{self._prefix}:user-state:{user_id}"

    def cached(self, user_id: int) -> UserState | None:
        """From Redis only (cheap enough for the event loop); None on a miss."""
        if self._ttl <= 0:
            return None
        raw = self._cache.mget([self._key(user_id)])[0]
        return UserState.from_bytes(raw) if raw else None

    def load(self, user_id: int) -> UserState | None:
        """From PostgreSQL (blocking: run it in a thread), then cached."""
        with self._pool.connection() as conn:
            state = load_user_state(conn, user_id)
        if state is not None and self._ttl > 0:
            self._cache.set_many({self._key(user_id): state.to_bytes()}, self._ttl)
        return state

    def get(self, user_id: int) -> UserState | None:
        return self.cached(user_id) or self.load(user_id)

    def invalidate(self, user_id: int) -> None:
        """After the commit of a change to the user."""
        self._cache.delete([self._key(user_id)])
