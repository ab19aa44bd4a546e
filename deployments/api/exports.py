"""CSV exports that cannot starve the API.

An export holds a database connection for as long as its client reads, and a slow or stalled client reads for a
long time. So exports never touch the request pool, nor the request threads:

- admission: at most `exports_per_org` running exports per organization across every replica (a Redis lease
  set; per process while Redis is down) and at most `export_connections` per process; beyond either, 429 with
  Retry-After, answered at once (nothing waits for a slot);
- a connection budget of their own: a small pool (`export_connections`), separate from the request pool;
- their own worker threads (a capacity limiter of the same size) for each batch fetched from the server-side
  cursor, so 50 exports queue behind each other and not in front of other routes;
- limits: `statement_timeout` on every fetch, `idle_in_transaction_session_timeout` for a client that stops
  reading, and `export_max_seconds` for the whole response, after which the connection is closed mid-body (the
  client sees an incomplete chunked body, never a silently short file).

The first batch is fetched before the response starts, so a failing query is an error status, not a cut body.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import anyio
import anyio.to_thread
import psycopg
import redis
from psycopg_pool import ConnectionPool
from redis.backoff import NoBackoff
from redis.retry import Retry
from starlette.types import Receive, Scope, Send

from deployments.api.errors import ApiError
from deployments.api.params import CSVResponse, csv_chunks
from deployments.api.settings import ApiSettings

log = logging.getLogger(__name__)
BATCH_ROWS = 2000

# KEYS[1]: the organization's lease set. ARGV: lease ms, limit, token. Expired leases (a replica that died
# mid-export) are dropped first; the server's clock is the only one involved.
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[1]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
"""


class OrgSlots:
    """Running exports per organization: a Redis sorted set of leases, or a per-process count without Redis."""

    def __init__(self, redis_url: str | None, prefix: str, lease_s: float, retry_after_down_s: float = 5.0) -> None:
        self._client = (
            redis.Redis.from_url(
                redis_url, socket_connect_timeout=0.25, socket_timeout=0.25, retry=Retry(NoBackoff(), 0)
            )
            if redis_url
            else None
        )
        self._script = self._client.register_script(_ACQUIRE) if self._client is not None else None
        self._prefix = prefix
        self._lease_ms = int(lease_s * 1000)
        self._down_until = 0.0
        self._retry_after_down = retry_after_down_s
        self._local: dict[int, int] = {}
        self._lock = threading.Lock()

    def acquire(self, org_id: int, limit: int) -> str | None:
        """A token to release, or None when the organization is at its limit."""
        token = uuid.uuid4().hex
        if self._script is not None and time.monotonic() >= self._down_until:
            try:
                ok = self._script(keys=[self._key(org_id)], args=[self._lease_ms, limit, token])
                return f"r:{token}" if ok else None
            except redis.RedisError as exc:
                log.warning("exports: Redis unavailable (%r); counting exports per process", exc)
                self._down_until = time.monotonic() + self._retry_after_down
        with self._lock:
            if self._local.get(org_id, 0) >= limit:
                return None
            self._local[org_id] = self._local.get(org_id, 0) + 1
        return f"l:{token}"

    def release(self, org_id: int, token: str) -> None:
        kind, _, value = token.partition(":")
        if kind == "l":
            with self._lock:
                self._local[org_id] = max(self._local.get(org_id, 0) - 1, 0)
            return
        with contextlib.suppress(redis.RedisError):  # else the lease runs out by itself
            self._client.zrem(self._key(org_id), value)  # type: ignore[union-attr]

    def _key(self, org_id: int) -> str:
        return f"{self._prefix}:exports:{org_id}"

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class ExportGate:
    """What the export routes share in one process: admission, the export pool, the export threads."""

    def __init__(self, pool: ConnectionPool, slots: OrgSlots, settings: ApiSettings) -> None:
        self.pool = pool
        self.slots = slots
        self.settings = settings
        self._budget = threading.BoundedSemaphore(settings.export_connections)
        self._limiter: anyio.CapacityLimiter | None = None

    @classmethod
    def create(cls, database_url: str, redis_url: str | None, settings: ApiSettings, name: str) -> ExportGate:
        from sentinel.db.pool import create_pool

        pool = create_pool(database_url, min_size=0, max_size=settings.export_connections, name=f"{name}-exports")
        lease = settings.export_max_seconds + 60  # outlives any export; a dead replica's leases end with it
        return cls(pool, OrgSlots(redis_url, settings.redis_prefix, lease), settings)

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        # Created on first use: a CapacityLimiter belongs to the event loop that serves the app.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.settings.export_connections)
        return self._limiter

    def close(self) -> None:
        self.pool.close()
        self.slots.close()

    def open(self, org_id: int, sql: str, params: Sequence[Any], filename: str) -> CSVResponse:
        """Admit the export, run its query, fetch the first batch; the response streams the rest."""
        s = self.settings
        retry = {"Retry-After": str(s.export_retry_after_seconds)}
        token = self.slots.acquire(org_id, s.exports_per_org)
        if token is None:
            raise ApiError(
                429,
                "too_many_exports",
                f"your organization already runs {s.exports_per_org} exports; retry when one has finished",
                headers=retry,
            )
        if not self._budget.acquire(blocking=False):
            self.slots.release(org_id, token)
            raise ApiError(429, "exports_busy", "the server is running as many exports as it can", headers=retry)
        release = _once(lambda: (self._budget.release(), self.slots.release(org_id, token)))
        try:
            cursor = _ExportCursor.open(self.pool, sql, params, s)
        except psycopg.errors.QueryCanceled:
            release()
            raise ApiError(
                503,
                "export_timeout",
                f"the export query ran longer than {s.export_statement_timeout_s:g}s; narrow its filters",
                headers=retry,
            ) from None
        except BaseException:
            release()
            raise
        return ExportResponse(self, cursor, release, filename)


def _once(action: Callable[[], Any]) -> Callable[[], None]:
    done = threading.Event()
    lock = threading.Lock()

    def run() -> None:
        with lock:
            if done.is_set():
                return
            done.set()
        action()

    return run


class _ExportCursor:
    """A server-side cursor in its own transaction on an export-pool connection."""

    def __init__(self, pool: ConnectionPool, conn: psycopg.Connection[Any], cursor: Any, first: list[Any]) -> None:
        self._pool, self._conn, self._cursor = pool, conn, cursor
        self.header = [column.name for column in cursor.description or ()]
        self.first = first

    @classmethod
    def open(cls, pool: ConnectionPool, sql: str, params: Sequence[Any], s: ApiSettings) -> _ExportCursor:
        # The budget semaphore holds a slot for this connection, so waiting here is only the connect time.
        conn = pool.getconn(timeout=10)
        try:
            limits = (f"{s.export_statement_timeout_s * 1000:.0f}", f"{s.export_max_seconds * 1000:.0f}")
            conn.execute(
                "SELECT set_config('statement_timeout', %s, true), "
                "set_config('idle_in_transaction_session_timeout', %s, true)",
                limits,
            )
            cursor = conn.cursor(name=f"export_{uuid.uuid4().hex[:12]}")
            cursor.execute(sql, params)
            first = cursor.fetchmany(BATCH_ROWS)
        except BaseException:
            with contextlib.suppress(Exception):
                conn.rollback()
            pool.putconn(conn)
            raise
        return cls(pool, conn, cursor, first)

    def fetch(self) -> list[Any]:
        return self._cursor.fetchmany(BATCH_ROWS)

    def close(self) -> None:
        try:
            with contextlib.suppress(Exception):
                self._cursor.close()
            with contextlib.suppress(Exception):
                self._conn.rollback()  # read only: nothing to keep; ends the transaction and its snapshot
        finally:
            self._pool.putconn(self._conn)


class ExportResponse(CSVResponse):
    def __init__(self, gate: ExportGate, cursor: _ExportCursor, release: Callable[[], None], filename: str) -> None:
        self._gate, self._cursor, self._release = gate, cursor, release
        super().__init__(
            self._body(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    async def _body(self) -> AsyncIterator[str]:
        limiter = self._gate.limiter
        batches = self._batches(limiter)
        async for chunk in csv_chunks(self._cursor.header, batches):
            yield chunk

    async def _batches(self, limiter: anyio.CapacityLimiter) -> AsyncIterator[list[Any]]:
        rows = self._cursor.first
        while rows:
            yield rows
            rows = await anyio.to_thread.run_sync(self._cursor.fetch, limiter=limiter)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        max_seconds = self._gate.settings.export_max_seconds
        try:
            with anyio.move_on_after(max_seconds) as scope_timer:
                await super().__call__(scope, receive, send)
            if scope_timer.cancelled_caught:
                # The response ends without its last chunk: the client knows the file is incomplete.
                log.warning("export stopped after %ss (VS_API_EXPORT_MAX_SECONDS)", max_seconds)
        finally:
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(Exception):
                    await self.body_iterator.aclose()  # type: ignore[attr-defined]
                await anyio.to_thread.run_sync(self._cursor.close, limiter=self._gate.limiter)
                self._release()
