"""Other routes' latency while CSV exports run: the API under plain uvicorn (its own process), one run.

    .venv/bin/python benchmarks/exports.py [--exports 50] [--seconds 20] [--rows 100000] [--read-kbps 512]

Seeds a scratch database with `--rows` violations (an export of all of them is ~25 MB of CSV), then measures
GET /v1/violations (one page), GET /v1/portfolios and GET /v1/alert-rules from 4 keep-alive clients:
first alone, then while `--exports` export clients from 25 organizations (two each) keep asking for the full
violations export and read it at `--read-kbps` (slow downloads hold their export open). A refused export (429)
waits its Retry-After and asks again. Reports latency percentiles, errors, and what the exports got (admitted,
refused, completed, cut). Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379.
The load generator shares the 2 cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.serve import ADMIN_PG, KeepAliveClient, spawn_uvicorn, wait_ready  # noqa: E402
from tests.api.seed import add_bulk_violations  # noqa: E402
from tests.conftest import create_database, database_url_for, drop_database, free_port  # noqa: E402

PASSWORD = "benchmark password 123"
ORGS = 25
API_OVERRIDES = {
    "rate_limit": "100000000/minute",
    "auth_rate_limit": "100000/minute",
    "redis_prefix": f"vs-bench-{secrets.token_hex(3)}",
}
PAGE_BBL = "1100000001"


def seed(database_url: str, rows: int) -> None:
    from sentinel.auth.organizations import create_organization

    with psycopg.connect(database_url) as conn:
        add_bulk_violations(conn, rows)
        conn.commit()
        for n in range(ORGS):
            create_organization(conn, name=f"bench{n}", admin_email=f"b{n}@bench.test", admin_password=PASSWORD)
        conn.execute("ANALYZE violations")
        conn.commit()


def token(url: str, n: int) -> dict[str, str]:
    r = httpx.post(f"{url}/v1/auth/token", data={"username": f"b{n}@bench.test", "password": PASSWORD}, timeout=60)
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


PATHS = [f"/v1/violations?bbl={PAGE_BBL}&limit=10", "/v1/portfolios", "/v1/alert-rules"]


async def other_routes(url: str, headers: dict[str, str], seconds: float, clients: int = 4) -> dict[str, float]:
    latencies: list[float] = []
    errors = timeouts = 0
    stop = time.perf_counter() + seconds

    async def one(k: int) -> None:
        nonlocal errors, timeouts
        connection = KeepAliveClient(url, headers)
        i = k
        try:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                try:
                    status = await asyncio.wait_for(connection.get(PATHS[i % len(PATHS)]), timeout=30)
                except TimeoutError:
                    timeouts += 1
                    connection.close()
                    connection = KeepAliveClient(url, headers)
                    continue
                latencies.append(time.perf_counter() - started)
                errors += status != 200
                i += 1
        finally:
            connection.close()

    await asyncio.gather(*(one(k) for k in range(clients)))
    if len(latencies) < 2:
        return {"n": len(latencies), "errors": errors, "timeouts": timeouts, "p50": 0, "p95": 0, "p99": 0, "max": 0}
    qs = statistics.quantiles(latencies, n=100)
    return {
        "n": len(latencies),
        "errors": errors,
        "timeouts": timeouts,
        "p50": qs[49] * 1000,
        "p95": qs[94] * 1000,
        "p99": qs[98] * 1000,
        "max": max(latencies) * 1000,
    }


async def exporter(url: str, headers: dict[str, str], stop: float, read_kbps: float, tally: dict[str, int]) -> None:
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        while time.perf_counter() < stop:
            try:
                async with client.stream("GET", "/v1/violations/export.csv") as r:
                    if r.status_code == 429:
                        tally["refused"] += 1
                        await r.aread()
                        await asyncio.sleep(float(r.headers.get("retry-after", "1")))
                        continue
                    if r.status_code != 200:
                        tally[f"status {r.status_code}"] = tally.get(f"status {r.status_code}", 0) + 1
                        continue
                    tally["admitted"] += 1
                    began = time.perf_counter()
                    received = 0
                    async for chunk in r.aiter_raw(64 * 1024):
                        received += len(chunk)
                        # A slow download: stay at `read_kbps` on average.
                        lag = received / (read_kbps * 1024) - (time.perf_counter() - began)
                        if lag > 0:
                            await asyncio.sleep(lag)
                        if time.perf_counter() >= stop:
                            break
                    else:
                        tally["completed"] += 1
            except (httpx.RemoteProtocolError, httpx.ReadError):
                tally["cut"] += 1
            except httpx.TimeoutException:
                tally["timeouts"] += 1


async def under_exports(url: str, tokens: list[dict[str, str]], args: argparse.Namespace) -> tuple[dict, dict]:
    tally = {"admitted": 0, "refused": 0, "completed": 0, "cut": 0, "timeouts": 0}
    stop = time.perf_counter() + args.seconds + 2
    exporters = [
        asyncio.create_task(exporter(url, tokens[i % ORGS], stop, args.read_kbps, tally)) for i in range(args.exports)
    ]
    await asyncio.sleep(2)  # let the exports start before measuring
    measured = await other_routes(url, tokens[0], args.seconds)
    await asyncio.gather(*exporters)
    return measured, tally


def run(args: argparse.Namespace) -> list[str]:
    name = create_database(ADMIN_PG, prefix="vs_bench_exports")
    database_url = database_url_for(ADMIN_PG, name)
    jwt_secret = secrets.token_urlsafe(48)
    proc = None
    try:
        from sentinel.db import migrate

        migrate.upgrade(database_url)
        seed(database_url, args.rows)
        port = free_port()
        proc = spawn_uvicorn(database_url, port, jwt_secret, API_OVERRIDES)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        tokens = [token(url, n) for n in range(ORGS)]
        alone = asyncio.run(other_routes(url, tokens[0], args.seconds))
        print("alone", alone, flush=True)
        loaded, tally = asyncio.run(under_exports(url, tokens, args))
        print("under exports", loaded, tally, flush=True)
    finally:
        try:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:  # a server stuck in exports does not exit on SIGTERM in time
                    proc.kill()
                    proc.wait(10)
        finally:
            drop_database(ADMIN_PG, name)
    lines = [
        "| other routes | requests | errors | timeouts (30 s) | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, r in (("alone", alone), (f"under {args.exports} exports", loaded)):
        lines.append(
            f"| {label} | {r['n']:.0f} | {r['errors']:.0f} | {r['timeouts']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} | "
            f"{r['p99']:.1f} | {r['max']:.1f} |"
        )
    lines.append("")
    lines.append("- exports: " + ", ".join(f"{k} {v}" for k, v in tally.items()))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exports", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--read-kbps", type=float, default=512.0)
    args = parser.parse_args()
    lines = run(args)
    header = f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}"
    print("\n" + header + "\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
