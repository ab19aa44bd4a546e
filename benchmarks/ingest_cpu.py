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
from typing import NamedTuple

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest as bench

from cluster import ray_runtime
from cluster.ingest import run_ingestion, stop_pipeline
from sentinel.db import migrate
from sentinel.settings import load_settings

HZ = os.sysconf("SC_CLK_TCK")
ROLES = bench.PeakMemory.NAMES  # the pipeline's actor classes, as their workers name themselves


class Usage(NamedTuple):
    """CPU seconds in user and kernel mode, and minor page faults (memory the kernel had to map and zero)."""

    user: float
    system: float
    faults: int

    def __sub__(self, other: Usage) -> Usage:  # type: ignore[override]
        return Usage(self.user - other.user, self.system - other.system, self.faults - other.faults)

    def __add__(self, other: Usage) -> Usage:  # type: ignore[override]
        return Usage(self.user + other.user, self.system + other.system, self.faults + other.faults)


def cpu_by_process() -> dict[str, tuple[str, Usage]]:
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended between listing and reading
        out[pid] = (cmd, Usage(int(fields[11]) / HZ, int(fields[12]) / HZ, int(fields[7])))
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
        migrate.upgrade(url)
        with bench.ReplayProcess(path) as server:
            run = {"database_url": url, "source_url": server.url, "app_token": None, "shape": shape,
                   "datasets": ["hpd_violations"]}  # fmt: skip
            before, started = cpu_by_process(), time.perf_counter()
            with bench.MachineShare() as machine:
                result = run_ingestion(**run, incremental=False, keep_pipeline=True)
            seconds, after = time.perf_counter() - started, cpu_by_process()
            stop_pipeline(url, server.url, None, shape)
        rows = result.summaries[0].fetched
        per_role: dict[str, Usage] = collections.defaultdict(lambda: Usage(0.0, 0.0, 0))
        for pid, (cmd, usage) in after.items():
            label = "driver" if pid == str(os.getpid()) else role(cmd, name)
            per_role[label] += usage - before.get(pid, (cmd, Usage(0.0, 0.0, 0)))[1]
        print(
            f"{rows} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s;"
            f" machine busy {machine.busy:.0%}, steal {machine.steal:.1%}"
        )
        print(f"  {'':28s} {'CPU-s':>7s} {'us/row':>7s} {'of it sys':>9s} {'faults/row':>10s}")
        for label, u in sorted(per_role.items(), key=lambda item: -(item[1].user + item[1].system)):
            cpu, per_row = u.user + u.system, 1e6 / rows
            print(f"  {label:28s} {cpu:7.1f} {cpu * per_row:7.1f} {u.system * per_row:9.1f} {u.faults / rows:10.2f}")
    finally:
        with psycopg.connect(bench.ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
