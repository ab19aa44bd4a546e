"""One local stack per data directory: who started the embedded PostgreSQL and Redis, and how to reach them.

The first process that needs the embedded servers of a `VS_DATA_DIR` starts them and writes `stack.json` there
(its own pid, each server's pid and URL); later processes on the same directory read it and attach, and leave the
servers running when they exit. Only the owner stops them (when its command ends) or `vsentinel stop`. A record
whose owner or a server has died is stale: what is left of it is stopped and a new stack replaces it.

The local Ray is recorded beside them in `ray.json`, with its own owner: the first long-running command that
starts a local Ray (`demo`, `serve`, `schedule run`), which may not be the one that started PostgreSQL. Later
processes join it with `ray.init(address=...)` instead of starting a second Ray, whose fixed ports (the dashboard's
8265) would collide; only the owner stops it. A Ray record whose owner has died is stale: the head node's processes
it lists are stopped and the record dropped.

Every pid is stored with its process's start time, so a pid the kernel has since reused is never taken for (or
signalled as) the process that was recorded.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

STATE_FILE = "stack.json"
LOCK_FILE = "stack.lock"
RAY_FILE = "ray.json"
RAY_LOCK_FILE = "ray.lock"


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


@dataclass(frozen=True, slots=True)
class RayRecord:
    owner: Proc
    address: str  # the GCS address, host:port
    dashboard_url: str | None = None
    processes: tuple[Proc, ...] = ()  # the head node's processes (gcs_server, raylet, ...), for a dead owner's
    leftovers: tuple[str, ...] = ()  # its temp folders, removed with a dead owner's processes

    def dead(self) -> list[str]:
        """Why the record no longer describes a usable Ray; empty when it does."""
        if not self.owner.alive():
            return [f"owner pid {self.owner.pid}"]
        return [] if any(proc.alive() for proc in self.processes) or not self.processes else ["every Ray process"]


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


def _write_record(path: Path, record: StackRecord | RayRecord) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2))
    tmp.chmod(0o600)  # a stack record's URLs are superuser logins over the directory's sockets
    tmp.replace(path)  # readers never see a half-written record


def write(data_dir: Path, record: StackRecord) -> None:
    _write_record(data_dir / STATE_FILE, record)


def remove(data_dir: Path) -> None:
    (data_dir / STATE_FILE).unlink(missing_ok=True)


def read_ray(data_dir: Path) -> RayRecord | None:
    try:
        raw = json.loads((data_dir / RAY_FILE).read_text())
        return RayRecord(
            owner=Proc(**raw["owner"]),
            address=str(raw["address"]),
            dashboard_url=raw.get("dashboard_url"),
            processes=tuple(Proc(**proc) for proc in raw.get("processes", ())),
            leftovers=tuple(str(path) for path in raw.get("leftovers", ())),
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        log.warning("unreadable Ray record replaced", extra={"path": str(data_dir / RAY_FILE)})
        return None


def write_ray(data_dir: Path, record: RayRecord) -> None:
    _write_record(data_dir / RAY_FILE, record)


def remove_ray(data_dir: Path, owner_pid: int | None = None) -> None:
    """Drops the Ray record (only if `owner_pid` owns it, when given)."""
    record = read_ray(data_dir)
    if record is not None and (owner_pid is None or record.owner.pid == owner_pid):
        (data_dir / RAY_FILE).unlink(missing_ok=True)


def remove_paths(paths: tuple[str, ...] | list[str]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def stop_processes(procs: tuple[Proc, ...] | list[Proc], timeout_s: float = 15.0) -> int:
    """SIGTERM, then SIGKILL after `timeout_s`, to the recorded processes that still run; returns how many ran."""
    running = [proc for proc in procs if proc.alive()]
    for proc in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
    for proc in running:
        if not wait_gone(proc, timeout_s):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
    return len(running)


def new_children(before: set[int]) -> tuple[Proc, ...]:
    """This process's children (all generations) that were not in `before`: what a start just spawned."""
    found = []
    for child in psutil.Process().children(recursive=True):
        if child.pid not in before:
            with contextlib.suppress(psutil.Error):
                found.append(Proc(child.pid, child.create_time()))
    return tuple(found)


def child_pids() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


@contextlib.contextmanager
def locked(data_dir: Path, name: str = LOCK_FILE) -> Iterator[None]:
    """Serializes start/attach/stop decisions on one data directory across processes."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / name).open("a") as handle:
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


def _ask_to_end(owner: Proc, timeout_s: float) -> None:
    """SIGINT to a record's owner, unless it is this process, and a wait for it to go: its command stops what it
    started on the way out."""
    if owner.alive() and owner.pid != os.getpid():
        with contextlib.suppress(ProcessLookupError):
            os.kill(owner.pid, signal.SIGINT)
        wait_gone(owner, timeout_s)


def stop_ray(data_dir: Path, timeout_s: float = 60.0) -> RayRecord | None:
    """`vsentinel stop`'s Ray half: asks the Ray's owner to end (it shuts its Ray down on the way out), then stops
    the recorded head-node processes that still run. Returns the record, None when there was none."""
    record = read_ray(data_dir)
    if record is None:
        return None
    _ask_to_end(record.owner, timeout_s)
    with locked(data_dir, RAY_LOCK_FILE):
        current = read_ray(data_dir)
        if current is not None and current.owner == record.owner:
            stop_processes(current.processes)
            remove_paths(current.leftovers)
            remove_ray(data_dir)
    return record


def stop(data_dir: Path, timeout_s: float = 60.0) -> StackRecord | None:
    """`vsentinel stop`: asks the owner to end (SIGINT: its command stops the stack on the way out), then stops
    whatever of the record still runs. Returns the record that was stopped, None when there was none."""
    record = read(data_dir)
    if record is None:
        return None
    _ask_to_end(record.owner, timeout_s)
    with locked(data_dir):
        current = read(data_dir)
        if current is not None and current.owner == record.owner:
            stop_servers(current)
            remove(data_dir)
    return record
