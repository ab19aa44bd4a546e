"""One local stack per data directory: who started the embedded PostgreSQL and Redis, and how to reach them.

The first process that needs the embedded servers of a `VS_DATA_DIR` starts them and writes `stack.json` there
(its own pid, each server's pid and URL); later processes on the same directory read it and attach, and leave the
servers running when they exit. Only the owner stops them (when its command ends) or `vsentinel stop`. A record
whose owner or a server has died is stale: what is left of it is stopped and a new stack replaces it.

Every pid is stored with its process's start time, so a pid the kernel has since reused is never taken for (or
signalled as) the process that was recorded.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

STATE_FILE = "stack.json"
LOCK_FILE = "stack.lock"


@dataclass(frozen=True, slots=True)
class Proc:
    pid: int
    started: float  # psutil's create_time

    @classmethod
    def of(cls, pid: int) -> Proc:
        return cls(pid, psutil.Process(pid).create_time())

    def alive(self) -> bool:
        try:
            process = psutil.Process(self.pid)
            return process.status() != psutil.STATUS_ZOMBIE and abs(process.create_time() - self.started) < 1.0
        except psutil.Error:
            return False


@dataclass(frozen=True, slots=True)
class StackRecord:
    owner: Proc
    postgres: Proc | None = None
    postgres_url: str | None = None  # the superuser's login to the `sentinel` database (Unix socket)
    redis: Proc | None = None
    redis_url: str | None = None

    def dead(self) -> list[str]:
        """What of the record no longer runs ("owner pid 12", ...); empty when all of it does."""
        parts = [("owner", self.owner), ("postgres", self.postgres), ("redis", self.redis)]
        return [f"{name} pid {proc.pid}" for name, proc in parts if proc is not None and not proc.alive()]

    def servers(self) -> list[tuple[str, Proc]]:
        return [(name, proc) for name, proc in (("postgres", self.postgres), ("redis", self.redis)) if proc]


def read(data_dir: Path) -> StackRecord | None:
    try:
        raw = json.loads((data_dir / STATE_FILE).read_text())
        return StackRecord(
            owner=Proc(**raw["owner"]),
            postgres=Proc(**raw["postgres"]) if raw.get("postgres") else None,
            postgres_url=raw.get("postgres_url"),
            redis=Proc(**raw["redis"]) if raw.get("redis") else None,
            redis_url=raw.get("redis_url"),
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        log.warning("unreadable stack record replaced", extra={"path": str(data_dir / STATE_FILE)})
        return None


def write(data_dir: Path, record: StackRecord) -> None:
    path = data_dir / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2))
    tmp.chmod(0o600)  # the URLs are superuser logins over the directory's sockets
    tmp.replace(path)


def remove(data_dir: Path) -> None:
    (data_dir / STATE_FILE).unlink(missing_ok=True)


@contextlib.contextmanager
def locked(data_dir: Path) -> Iterator[None]:
    """Serializes start/attach/stop decisions on one data directory across processes."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# SIGINT is PostgreSQL's fast shutdown (sessions rolled back, clean checkpoint); SIGTERM makes Redis save and exit.
_STOP_SIGNAL = {"postgres": signal.SIGINT, "redis": signal.SIGTERM}


def stop_servers(record: StackRecord, timeout_s: float = 30.0) -> list[str]:
    """Stops the record's servers that still run; returns what was stopped ("postgres pid 12")."""
    stopped = []
    for name, proc in record.servers():
        if proc.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, _STOP_SIGNAL[name])
            stopped.append((name, proc))
    for name, proc in stopped:
        if not wait_gone(proc, timeout_s):
            log.warning("server did not stop in time; killed", extra={"server": name, "pid": proc.pid})
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
    return [f"{name} pid {proc.pid}" for name, proc in stopped]


def wait_gone(proc: Proc, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while proc.alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop(data_dir: Path, timeout_s: float = 60.0) -> StackRecord | None:
    """`vsentinel stop`: asks the owner to end (SIGINT: its command stops the stack on the way out), then stops
    whatever of the record still runs. Returns the record that was stopped, None when there was none."""
    record = read(data_dir)
    if record is None:
        return None
    if record.owner.alive() and record.owner.pid != os.getpid():
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.owner.pid, signal.SIGINT)
        wait_gone(record.owner, timeout_s)
    with locked(data_dir):
        current = read(data_dir)
        if current is not None and current.owner == record.owner:
            stop_servers(current)
            remove(data_dir)
    return record
