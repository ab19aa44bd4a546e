"""Where ingestion's CPU goes: CPU seconds per process role over one full ingestion of the 1M-row HPD file.

    PYTHONPATH=. .venv/bin/python benchmarks/ingest_cpu.py [--rows 1000000]

The same setup as benchmarks/ingest.py (replay server in its own process, a new pipeline, a scratch database).
Reads utime + stime of every process from /proc before and after the run, so it counts the pipeline's actors,
the PostgreSQL backends, the replay server and Ray's own processes alike, and prints them per row.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest as bench

from cluster import ray_runtime
from cluster.ingest import run_ingestion, stop_pipeline
from sentinel.db import migrations
from sentinel.settings import load_settings

HZ = os.sysconf("SC_CLK_TCK")
ROLES = ("Fetcher", "BoroughNormalizer", "Writer", "IngestCoordinator")


def cpu_by_process() -> dict[str, tuple[str, float]]:
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended between listing and reading
        out[pid] = (cmd, (int(fields[11]) + int(fields[12])) / HZ)
    return out


def role(cmd: str, database: str) -> str:
    for name in ROLES:
        if name in cmd:
            return name
    if cmd.startswith("postgres"):
        return "postgres (ingest backends)" if database in cmd else "postgres (other)"
    if "spawn_main" in cmd:
        return "replay server"
    if "ray" in cmd:
        return "ray system"
    return "other"


def machine_busy() -> tuple[int, int]:
    ticks = list(map(int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]))
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--active-partitions", type=int, default=bench.PipelineShape().active_partitions)
    args = parser.parse_args()
    ray_runtime.connect(load_settings(ray_num_cpus=4, ray_object_store_mb=1000), include_dashboard=False)
    shape = bench.PipelineShape(active_partitions=args.active_partitions)
    path = bench.hpd_file(args.rows)
    name = f"vs_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(bench.ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        migrations.upgrade(url)
        with bench.ReplayProcess(path) as server:
            run = {"database_url": url, "source_url": server.url, "app_token": None, "shape": shape,
                   "datasets": ["hpd_violations"]}  # fmt: skip
            before, busy_before, started = cpu_by_process(), machine_busy(), time.perf_counter()
            result = run_ingestion(**run, incremental=False, keep_pipeline=True)
            seconds, after, busy_after = time.perf_counter() - started, cpu_by_process(), machine_busy()
            stop_pipeline(url, server.url, None, shape)
        rows = result.summaries[0].fetched
        per_role: collections.Counter[str] = collections.Counter()
        for pid, (cmd, cpu) in after.items():
            label = "driver" if pid == str(os.getpid()) else role(cmd, name)
            per_role[label] += cpu - before.get(pid, (cmd, 0.0))[1]
        busy, total = (busy_after[0] - busy_before[0]) / HZ, (busy_after[1] - busy_before[1]) / HZ
        print(f"{rows} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s; machine busy {busy / total:.0%}")
        for name_, cpu in per_role.most_common():
            print(f"  {name_:28s} {cpu:7.1f} CPU-s {cpu / rows * 1e6:6.1f} us/row")
    finally:
        with psycopg.connect(bench.ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
