"""Serving latency and throughput: the API on Ray Serve and the same FastAPI app under plain uvicorn, one run.

    .venv/bin/python benchmarks/serve.py [--seconds 6] [--buildings 3000]

Measures GET /v1/properties/{bbl}/risk (a cached score) and GET /v1/properties/{bbl} (the property page) at 1 and
32 concurrent clients against each server, then POST /v1/risk/batch with 1000 buildings that have no score yet,
then `--logins` sequential logins (POST /v1/auth/token: an argon2id verify plus the throttling checks).
Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (a scratch database is created and dropped).
The risk model is the tests' stand-in (tests/api/fakes.py): this measures serving, not the model.
The load generator (one asyncio process, one keep-alive connection per client) shares the 2 cores with the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import create_database, database_url_for, drop_database, free_port  # noqa: E402

ADMIN_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"
LOADER = "tests.api.fakes:load_counting_model"
PASSWORD = "benchmark password 123"
API_OVERRIDES = {
    "rate_limit": "100000000/minute",
    "auth_rate_limit": "100000000/minute",  # the login series is one client: not a brute force
    "redis_prefix": f"vs-bench-{secrets.token_hex(3)}",
}


def seed(database_url: str, buildings: int) -> list[str]:
    from sentinel.auth.organizations import create_organization

    bbls = [f"1{n:09d}" for n in range(100000001, 100000001 + buildings)]
    with psycopg.connect(database_url) as conn:
        with (
            conn.cursor() as cur,
            cur.copy("COPY properties (bbl, borough, block, lot, address, zip) FROM STDIN") as cp,
        ):
            for n, bbl in enumerate(bbls):
                cp.write_row((bbl, 1, int(bbl[1:6]), int(bbl[6:]), f"{n} BENCHMARK AVENUE", "10001"))
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY violations (source, source_id, bbl, borough, class, severity, status, issued_date, "
                "certify_by_date, penalty_imposed, balance_due, raw, content_hash) FROM STDIN"
            ) as cp,
        ):
            for n, bbl in enumerate(bbls):
                for k in range(3):
                    sid = f"b{n}-{k}"
                    cp.write_row((
                        "HPD" if k < 2 else "ECB", sid, bbl, 1, "BC"[k % 2], "hazardous", "open" if k else "closed",
                        "2026-09-01", "2026-12-01", 500 if k == 2 else None, 250 if k == 2 else None,
                        Jsonb({}), hashlib.sha256(sid.encode()).hexdigest(),
                    ))  # fmt: skip
        conn.commit()
        create_organization(conn, name="bench", admin_email="bench@bench.test", admin_password=PASSWORD)
    return bbls


def uvicorn_worker(database_url: str, port: int, jwt_secret: str, options: str) -> None:
    """The API under plain uvicorn in this process; `options` is spawn_uvicorn's JSON."""
    import uvicorn

    from deployments.api.app import create_app
    from deployments.api.local import local_deps
    from deployments.api.settings import ApiSettings
    from deployments.config import import_loader
    from sentinel import logs

    opts = json.loads(options)
    logs.configure(opts["log_level"], "json")
    loader = {"model_loader": import_loader(opts["loader"])} if opts["loader"] else {}
    deps = local_deps(
        database_url=database_url,
        redis_url=REDIS,
        jwt_secret=jwt_secret,
        settings=ApiSettings(**opts["overrides"]),
        **loader,
    )
    uvicorn.run(
        create_app(deps), host="127.0.0.1", port=port, log_level="warning", access_log=False, proxy_headers=False
    )


def spawn_uvicorn(
    database_url: str,
    port: int,
    jwt_secret: str,
    overrides: dict[str, str],
    *,
    loader: str | None = None,
    log_level: str = "WARNING",
    **popen: Any,
) -> subprocess.Popen:
    """The API under uvicorn in a process of its own (the benchmarks' baseline beside Ray Serve)."""
    options = json.dumps({"overrides": overrides, "loader": loader, "log_level": log_level})
    command = [sys.executable, __file__, "--uvicorn-worker", database_url, str(port), jwt_secret, options]
    return subprocess.Popen(command, **popen)


def stop_serve() -> None:
    """Serve and Ray down at the end of a run; a failure is printed, not raised, so the database is still dropped."""
    try:
        import ray
        from ray import serve

        serve.shutdown()
        ray.shutdown()
    except Exception as exc:
        print(f"shutdown: {exc!r}", file=sys.stderr)


def wait_ready(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


class KeepAliveClient:
    """One HTTP/1.1 keep-alive connection with a minimal request writer and response reader.

    The load generator shares the 2 cores with the servers it measures; httpx spends ~1 ms of CPU per request,
    which at 32 clients made the client a third of the machine and its event-loop queueing part of every
    latency. This reads exactly what uvicorn and the Serve proxy send for these routes (status line, headers,
    a Content-Length body) and fails loudly on anything else.
    """

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = httpx.URL(url)
        self._host, self._port = parts.host, parts.port
        lines = [f"Host: {self._host}:{self._port}", *(f"{k}: {v}" for k, v in headers.items())]
        self._head = "\r\n".join(lines).encode() + b"\r\n\r\n"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        self._writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self._head)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"transfer-encoding":
                raise RuntimeError(f"unexpected transfer-encoding {value!r}")
        if length is None:
            raise RuntimeError("response without Content-Length")
        await self._reader.readexactly(length)
        return status

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


async def load(url: str, path: str, headers: dict[str, str], clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    connections = [KeepAliveClient(url, headers) for _ in range(clients)]
    try:
        for connection in connections:
            if await connection.get(path) != 200:  # warm, and fail early on a bad setup
                raise RuntimeError(f"{url}{path} did not answer 200")
        stop = time.perf_counter() + seconds

        async def one_client(connection: KeepAliveClient) -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                started = time.perf_counter()
                status = await connection.get(path)
                latencies.append(time.perf_counter() - started)
                errors += status != 200

        began = time.perf_counter()
        await asyncio.gather(*(one_client(c) for c in connections))
        elapsed = time.perf_counter() - began
    finally:
        for connection in connections:
            connection.close()
    qs = statistics.quantiles(latencies, n=100)
    return {
        "n": len(latencies),
        "errors": errors,
        "p50": qs[49] * 1000,
        "p95": qs[94] * 1000,
        "p99": qs[98] * 1000,
        "rps": len(latencies) / elapsed,
    }


def batch(url: str, headers: dict[str, str], bbls: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    r = httpx.post(f"{url}/v1/risk/batch", json={"bbls": bbls}, headers=headers, timeout=120)
    seconds = time.perf_counter() - started
    r.raise_for_status()
    assert len(r.json()["scores"]) == len(bbls), "every building must come back scored"
    return {"seconds": seconds, "scored": len(r.json()["scores"])}


def logins(url: str, count: int) -> dict[str, float]:
    latencies = []
    with httpx.Client(base_url=url, timeout=30) as c:
        for _ in range(count):
            started = time.perf_counter()
            c.post("/v1/auth/token", data={"username": "bench@bench.test", "password": PASSWORD}).raise_for_status()
            latencies.append(time.perf_counter() - started)
    qs = statistics.quantiles(latencies, n=20)
    return {"n": count, "p50": statistics.median(latencies) * 1000, "p95": qs[18] * 1000}


def token(url: str) -> dict[str, str]:
    r = httpx.post(f"{url}/v1/auth/token", data={"username": "bench@bench.test", "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def start_serve(database_url: str, port: int, jwt_secret: str, ingress: str) -> None:
    import ray
    from ray import serve

    from cluster.ray_runtime import serve_ingress_environment
    from deployments.app import APP_NAME, build_app

    os.environ["PYTHONPATH"] = f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    # This benchmark's own process (its entry point): the Ray it starts inherits the switches `vsentinel serve`
    # gives its local Ray.
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.update(serve_ingress_environment(ingress))
    ray.init(
        num_cpus=4,
        object_store_memory=300 * 1024 * 1024,
        include_dashboard=False,
        log_to_driver=False,  # replica logs go to their files; printing them here would load the client process
        namespace="vsentinel-bench",
    )
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    args = {
        "database_url": database_url,
        "redis_url": REDIS,
        "jwt_secret": jwt_secret,
        "model_loader": LOADER,
        "api": API_OVERRIDES,
    }
    serve.run(build_app(args), name=APP_NAME, route_prefix="/")


def run(args: argparse.Namespace) -> list[str]:
    name = create_database(ADMIN_PG, prefix="vs_bench")
    database_url = database_url_for(ADMIN_PG, name)
    jwt_secret = secrets.token_urlsafe(48)
    lines: list[str] = []
    proc = None
    try:
        from sentinel.db import migrate

        migrate.upgrade(database_url)
        bbls = seed(database_url, args.buildings)
        uvi_port, serve_port = free_port(), free_port()
        targets = {}
        if "uvicorn" in args.targets:
            # The same logging as the Serve gateway replica.
            proc = spawn_uvicorn(
                database_url,
                uvi_port,
                jwt_secret,
                API_OVERRIDES,
                loader=LOADER,
                log_level="INFO",
                stderr=subprocess.DEVNULL,
            )
            targets["uvicorn"] = f"http://127.0.0.1:{uvi_port}"
        if "serve" in args.targets:
            start_serve(database_url, serve_port, jwt_secret, args.ingress)
            targets["serve"] = f"http://127.0.0.1:{serve_port}"
        for url in targets.values():
            wait_ready(url)
        cached = bbls[0]
        results: dict[tuple[str, str, int], dict[str, float]] = {}
        for target, url in targets.items():
            headers = token(url)
            httpx.get(f"{url}/v1/properties/{cached}/risk", headers=headers, timeout=30).raise_for_status()
            for label, path in (
                ("risk (cached)", f"/v1/properties/{cached}/risk"),
                ("property page", f"/v1/properties/{cached}"),
            ):
                for clients in (1, 32):
                    results[(target, label, clients)] = asyncio.run(load(url, path, headers, clients, args.seconds))
                    print(target, label, clients, results[(target, label, clients)], flush=True)
        lines.append("| server | endpoint | clients | requests | errors | p50 ms | p95 ms | p99 ms | req/s |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for (target, label, clients), r in results.items():
            lines.append(
                f"| {target} | {label} | {clients} | {r['n']:.0f} | {r['errors']:.0f} | {r['p50']:.1f} | "
                f"{r['p95']:.1f} | {r['p99']:.1f} | {r['rps']:.0f} |"
            )
        lines.append("")
        for label in ("risk (cached)", "property page"):
            if len(targets) == 2:
                ratio = results[("serve", label, 32)]["rps"] / results[("uvicorn", label, 32)]["rps"]
                lines.append(f"- Serve / uvicorn throughput at 32 clients, {label}: {ratio:.2f}x")
        for i, (target, url) in enumerate(targets.items()):
            chunk = bbls[1000 + i * 1000 : 2000 + i * 1000]  # never read before: no stored score
            b = batch(url, token(url), chunk)
            lines.append(f"- batch risk, 1000 uncached buildings, {target}: {b['seconds'] * 1000:.0f} ms")
            print(target, "batch", b, flush=True)
        for target, url in targets.items():
            if args.logins:
                r = logins(url, args.logins)
                lines.append(f"- login, {r['n']:.0f} in a row, {target}: p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms")
                print(target, "login", r, flush=True)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        stop_serve()
        drop_database(ADMIN_PG, name)
    return lines


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--uvicorn-worker":
        uvicorn_worker(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--buildings", type=int, default=3000)
    parser.add_argument("--logins", type=int, default=40, help="sequential logins timed per server (0: none)")
    parser.add_argument(
        "--targets", type=lambda v: set(v.split(",")), default={"uvicorn", "serve"}, help="uvicorn,serve (both)"
    )
    parser.add_argument(
        "--ingress", choices=("haproxy", "proxy"), default="haproxy", help="Serve's HTTP ingress (VS_SERVE_INGRESS)"
    )
    args = parser.parse_args()
    lines = run(args)
    header = f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}"
    print("\n" + header + "\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
