"""CSV exports that cannot starve the API.

An export holds a database connection for as long as its client reads, and a slow or stalled client reads for a
long time. So exports never touch the request pool, nor the request threads:

- admission: at most `exports_per_org` running exports per organization across every replica (a Redis lease
  set; per process while Redis is down) and at most `export_connections` per process; beyond either, 429 with
  Retry-After, answered at once (nothing waits for a slot);
- a connection budget of their own: a small pool (`export_connections`), separate from the request pool;
- their own worker threads (a capacity limiter of the same size) for each chunk read, so 50 exports queue behind
  each other and not in front of other routes;
- PostgreSQL writes the CSV (`COPY (query) TO STDOUT`, escaped against formula injection in the SELECT:
  sentinel/db/csv_copy.py) and the API relays 64 KB chunks, instead of encoding rows in Python on the API's CPU
  (benchmarks/RESULTS.md, Exports);
- `export_max_seconds` for the whole response (and as the COPY's statement_timeout), after which the connection
  is closed mid-body: the client sees an incomplete chunked body, never a silently short file.

The first chunk is read before the response starts, so a failing query is an error status, not a cut body.
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
from deployments.api.params import CSVResponse
from deployments.api.settings import ApiSettings
from sentinel.db.csv_copy import csv_copy
from sentinel.db.pool import create_pool

log = logging.getLogger(__name__)

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

    async def open(self, org_id: int, query: str, params: Sequence[Any], filename: str) -> CSVResponse:
        """Admit the export, start its query and read the first chunk; the response streams the rest.

        Admission is a quick Redis call on a request thread; the query (whose first chunk waits for the sort) runs
        on an export thread, so exports that start together do not occupy the threads other routes need."""
        s = self.settings
        retry = {"Retry-After": str(s.export_retry_after_seconds)}
        token = await anyio.to_thread.run_sync(self.slots.acquire, org_id, s.exports_per_org)
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
            cursor = await anyio.to_thread.run_sync(
                _ExportCursor.open, self.pool, query, params, s, limiter=self.limiter
            )
        except psycopg.errors.QueryCanceled:
            release()
            raise ApiError(
                503,
                "export_timeout",
                f"the export ran longer than {s.export_max_seconds:g}s; narrow its filters",
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


_CHUNK_BYTES = 64 * 1024


class _ExportCursor:
    """`COPY (query) TO STDOUT` in CSV on an export-pool connection: PostgreSQL writes the CSV and Python relays it
    in chunks, so an export costs the API process little CPU and does not slow other routes down."""

    def __init__(self, pool: ConnectionPool, conn: psycopg.Connection[Any], block: Any) -> None:
        self._pool, self._conn, self._block = pool, conn, block
        self._copy = block.__enter__()
        self._done = False
        self.first = b""

    @classmethod
    def open(cls, pool: ConnectionPool, query: str, params: Sequence[Any], s: ApiSettings) -> _ExportCursor:
        # The budget semaphore holds a slot for this connection, so waiting here is only the connect time.
        conn = pool.getconn(timeout=10)
        try:
            # One statement streams the whole export: its limit is the export's (a backstop to the response's).
            export = cls(pool, conn, csv_copy(conn, query, params, timeout_s=s.export_max_seconds + 5))
            export.first = export.read()
            return export
        except BaseException:
            conn.close()  # mid-COPY or failed: not worth resetting
            pool.putconn(conn)
            raise

    def read(self) -> bytes:
        """Up to about 64 KB of CSV; empty at the end. PostgreSQL sends one row per message: batching them keeps
        the hops between threads and the event loop per chunk, not per row."""
        parts: list[bytes] = []
        size = 0
        while not self._done and size < _CHUNK_BYTES:
            data = self._copy.read()
            if not data:
                self._done = True
                break
            parts.append(bytes(data))
            size += len(data)
        return b"".join(parts)

    def close(self) -> None:
        try:
            if self._done:
                self._block.__exit__(None, None, None)
                self._conn.rollback()  # read only: ends the transaction and its snapshot
            else:
                self._conn.close()  # cut mid-stream: dropping the connection ends the COPY on the server
        except Exception:
            self._conn.close()
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

    async def _body(self) -> AsyncIterator[bytes]:
        chunk = self._cursor.first
        while chunk:
            yield chunk
            chunk = await anyio.to_thread.run_sync(self._cursor.read, limiter=self._gate.limiter)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        max_seconds = self._gate.settings.export_max_seconds
        try:
            with anyio.move_on_after(max_seconds) as timer:
                await super().__call__(scope, receive, send)
            if timer.cancelled_caught:
                # The response ends without its last chunk: the client knows the file is incomplete.
                log.warning("export stopped after %ss (VS_API_EXPORT_MAX_SECONDS)", max_seconds)
        finally:
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(Exception):
                    await self.body_iterator.aclose()  # type: ignore[attr-defined]
                await anyio.to_thread.run_sync(self._cursor.close, limiter=self._gate.limiter)
                self._release()
