"""What the audit log's hash chain costs writers (run directly against the local PostgreSQL on 127.0.0.1:5432;
each run uses a fresh database and its own application role).

    .venv/bin/python benchmarks/audit_chain.py --writers 1 8 32 --seconds 5

For each number of concurrent writers (threads, one connection each, as the application role), every transaction
writes one audit row the way the API does (record_audit) and commits; audit rows per second and the commit
latency (p50 / p99) are measured with the chain trigger on, then with it disabled by the owner (the code before
migration 0016). Then `verify` is timed over every row written.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sentinel.auth.audit import record_audit  # noqa: E402
from sentinel.auth.audit_chain import verify  # noqa: E402
from tests.conftest import LOCAL_PG, drop_database, migrated_database  # noqa: E402


def run(app_url: str, writers: int, seconds: float) -> tuple[float, float, float]:
    latencies: list[list[float]] = [[] for _ in range(writers)]
    start = threading.Barrier(writers + 1)
    stop = threading.Event()

    def writer(i: int) -> None:
        with psycopg.connect(app_url) as conn:
            start.wait()
            while not stop.is_set():
                began = time.perf_counter()
                with conn.transaction():
                    record_audit(conn, org_id=1, actor=f"user:{i}", action="auth.login", target=f"user:{i}",
                                 details={"ip": "203.0.113.7"}, request_id=f"bench-{i}")  # fmt: skip
                latencies[i].append(time.perf_counter() - began)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)  # the measuring window, not a synchronization
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    every = sorted(x for per in latencies for x in per)
    p99 = every[int(0.99 * (len(every) - 1))]
    return len(every) / elapsed, statistics.median(every) * 1000, p99 * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    name, owner_url, app_url = migrated_database(LOCAL_PG, prefix="vs_bench_audit")
    try:
        print(f"{'writers':>7} {'chain':>5} {'rows/s':>8} {'p50 ms':>7} {'p99 ms':>7}")
        for writers in args.writers:
            for chained in (True, False):
                with psycopg.connect(owner_url, autocommit=True) as owner:
                    state = "ENABLE" if chained else "DISABLE"
                    owner.execute(f"ALTER TABLE audit_log {state} TRIGGER audit_log_chain")
                rate, p50, p99 = run(app_url, writers, args.seconds)
                print(f"{writers:>7} {'on' if chained else 'off':>5} {rate:>8.0f} {p50:>7.2f} {p99:>7.2f}")
        with psycopg.connect(owner_url, autocommit=True) as owner:
            owner.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_chain")
        with psycopg.connect(app_url) as conn:
            began = time.perf_counter()
            report = verify(conn)
            took = time.perf_counter() - began
        print(f"verify: {report.links} links in {took:.2f} s ({report.links / took:.0f} links/s); first break: "
              f"{report.first_break}")  # fmt: skip
    finally:
        drop_database(LOCAL_PG, name)


if __name__ == "__main__":
    main()
