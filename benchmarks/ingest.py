"""Ingestion benchmark: a synthetic HPD violations dataset served by the replay server, ingested by the Ray
pipeline into PostgreSQL, against a raw COPY of the same normalized rows into the same table.

    .venv/bin/python benchmarks/ingest.py --rows 1000000 [--rows 3000000] [--changes 80000]

Prints, per size: end-to-end rows/s, raw COPY rows/s, their ratio, peak PSS of all ingestion processes (Ray
workers of the pipeline and the driver; the replay server runs in its own process and is not counted), and the
time of incremental runs applying `--changes` changed rows: on the pipeline kept from the full load (as the
scheduler runs them) and on a pipeline started for the run (as a one-off `vsentinel ingest` does). The full load
starts its own pipeline, as a one-off run does; `kept_pipeline_reload_rows_s` is the same load again, into the
emptied tables, on the pipeline kept from the first (the rate without the start of eight Ray workers), and its
peak memory (the same processes after twice the rows).
Each size runs in a process of its own; `machine_busy` and `machine_steal` are the shares of the machine's CPU
that was busy, and that the hypervisor gave to other guests, during the first load.
Not a test: nothing here gates CI. Needs PostgreSQL on 127.0.0.1:5432 (a scratch database is created and dropped).
"""

from __future__ import annotations

import argparse
import io
import itertools
import multiprocessing
import secrets
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psutil
import psycopg
import requests

from citysim.replay.server import serve_in_background
from cluster import ray_runtime
from cluster.ingest import run_ingestion, stop_pipeline
from sentinel.db import migrate
from sentinel.ingest.flow import PipelineShape
from sentinel.settings import load_settings
from tests.conftest import free_port

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATA = Path(__file__).parent / ".data"
HPD = "wvxf-dwi5"


def hpd_file(rows: int) -> Path:
    """A file of `rows` HPD violations in the real API format, cycled from a synthetic city's rows."""
    from datetime import date

    from citysim.synth.city import write_city
    from citysim.synth.config import SynthConfig

    path = DATA / f"hpd-{rows}-v2" / f"{HPD}.json"
    if path.exists():
        return path
    seed_dir = DATA / "seed-city"
    if not (seed_dir / f"{HPD}.json").exists():
        write_city(SynthConfig(buildings=5000, start=date(2020, 1, 1), end=date(2025, 12, 31), seed=42), seed_dir)
    base = [orjson.loads(line.rstrip(b",\n")) for line in (seed_dir / f"{HPD}.json").open("rb") if line[:1] == b"{"]
    path.parent.mkdir(parents=True, exist_ok=True)
    # A real export carries the system fields of a dataset that grew over years: one update per minute here,
    # so the snapshot's :updated_at values are spread as they are on data.cityofnewyork.us, not all equal.
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with path.open("wb") as out:
        out.write(b"[\n")
        for n, row in enumerate(itertools.islice(itertools.cycle(base), rows)):
            copy = dict(row)
            copy["violationid"] = str(20_000_000 + n)  # unique keys; everything else keeps the real format
            stamp = (start + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            copy[":created_at"] = copy[":updated_at"] = stamp
            out.write(orjson.dumps(copy) + (b",\n" if n < rows - 1 else b"\n"))
        out.write(b"]\n")
    return path


class PeakMemory:
    """Samples the summed PSS (shared pages split between their users, so the Ray object store and shared
    libraries count once) of this process and every Ray worker of the ingestion pipeline; keeps the split by
    role at the peak."""

    NAMES = ("IngestCoordinator", "Fetcher", "BoroughNormalizer", "Writer")
    # A sample reads every page table of ~1.7 GB (the kernel's PSS walk, ~50 ms): every 0.5 s that cost 3 CPU-s
    # of a 1M-row load and 10.8 of a 3M one, taken from the load it measures. The peak is a plateau (each
    # normalizer holds its high-water heap) lasting most of the load, which a sample a second still sees.
    INTERVAL_S = 1.0

    def __init__(self) -> None:
        self.peak = 0
        self.at_peak: dict[str, float] = {}
        self.cpu_seconds = 0.0  # the sampler's own CPU (it shares the two cores with what it measures)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            roles = {"driver": me.memory_full_info().pss}
            for proc in psutil.process_iter(["cmdline"]):
                cmd = " ".join(proc.info["cmdline"] or [])
                name = next((n for n in self.NAMES if f"ray::{n}" in cmd), None)
                if name is None:
                    continue
                try:
                    roles[name] = roles.get(name, 0) + proc.memory_full_info().pss
                except psutil.Error:
                    continue  # a worker that just exited
            total = sum(roles.values())
            if total > self.peak:
                self.peak = total
                self.at_peak = {role: round(pss / 2**20) for role, pss in roles.items()}
            self.cpu_seconds = time.thread_time()
            self._stop.wait(self.INTERVAL_S)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class MachineShare:
    """Where the machine's CPU went during a block, from /proc/stat: the busy share, the share spent waiting on the
    disk (iowait), and the share the hypervisor gave to other guests (steal), one way a VM's figures move from hour
    to hour with no change of ours."""

    def __enter__(self) -> MachineShare:
        self._start = _cpu_ticks()
        return self

    def __exit__(self, *exc: object) -> None:
        user, nice, system, idle, iowait, irq, softirq, steal = (
            b - a for a, b in zip(self._start, _cpu_ticks(), strict=True)
        )
        total = max(1, user + nice + system + idle + iowait + irq + softirq + steal)
        self.busy = round((total - idle - iowait) / total, 3)
        self.iowait = round(iowait / total, 3)
        self.steal = round(steal / total, 3)


def _cpu_ticks() -> list[int]:
    with open("/proc/stat") as f:
        return [int(v) for v in f.readline().split()[1:9]]


def _serve_replay(path: str, port: int, admin_token: str) -> None:
    # The store is cached beside the file (benchmarks/.data, gitignored), not in a /tmp file that a terminated
    # server never removes (GBs per run); a store that had changes applied is rebuilt on the next start.
    with serve_in_background(Path(path).parent, cache=True, port=port, admin_token=admin_token):
        threading.Event().wait()


class ReplayProcess:
    """The replay server in its own process, so its memory and CPU are not the driver's."""

    def __init__(self, path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._token = secrets.token_hex(16)
        ctx = multiprocessing.get_context("spawn")
        self._process = ctx.Process(target=_serve_replay, args=(str(path), self.port, self._token), daemon=True)

    def __enter__(self) -> ReplayProcess:
        self._process.start()
        deadline = time.monotonic() + 600  # the first start builds the SQLite store of the file
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.url}/api/views/{HPD}.json", timeout=5)
                return self
            except requests.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError("replay server did not start")

    def apply_changes(self, changes: dict) -> None:
        headers = {"Authorization": f"Bearer {self._token}"}
        response = requests.post(f"{self.url}/admin/changes", data=orjson.dumps(changes), headers=headers, timeout=600)
        response.raise_for_status()

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.join(10)


def checkpoint(url: str) -> None:
    """Both measured loads start from a fresh checkpoint: each writes more WAL than max_wal_size (1 GB by default),
    so where the checkpoints fall otherwise differs from run to run (one source of the spread of their ratio)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def raw_copy_rate(url: str) -> float:
    """rows/s of COPY FROM of the already-normalized rows into an identical table (indexes included)."""
    with psycopg.connect(url, autocommit=True) as conn:
        buffer = io.BytesIO()
        with conn.cursor().copy("COPY violations TO STDOUT") as copy:
            for chunk in copy:
                buffer.write(chunk)
        rows = conn.execute("SELECT count(*) FROM violations").fetchone()[0]
        conn.execute("CREATE TABLE violations_copy (LIKE violations INCLUDING ALL)")
        checkpoint(url)
        started = time.perf_counter()
        with conn.cursor().copy("COPY violations_copy FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE violations_copy")
    return rows / elapsed


def empty_tables(url: str) -> None:
    """Back to before the first load: no rows, history, rejects or watermarks (the runs' records stay)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE violations, status_history, rejects, watermarks")


def changes_for(url: str, count: int) -> dict:
    """A day of changes: `count` existing open violations closed (status changes, each a new :updated_at)."""
    with psycopg.connect(url) as conn:
        query = "SELECT source_id FROM violations WHERE status = 'open' ORDER BY source_id LIMIT %s"
        ids = [r[0] for r in conn.execute(query, (count,))]
    update = [{"violationid": i, "violationstatus": "Close", "currentstatus": "VIOLATION CLOSED",
               "currentstatusdate": "2026-11-24T00:00:00.000"} for i in ids]  # fmt: skip
    return {"datasets": {HPD: {"update": update}}}


def measure(rows: int, changes: int, shape: PipelineShape) -> dict:
    path = hpd_file(rows)
    name = f"vs_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        migrate.upgrade(url)
        with ReplayProcess(path) as server:
            run = {"database_url": url, "source_url": server.url, "app_token": None, "shape": shape,
                   "datasets": ["hpd_violations"]}  # fmt: skip
            checkpoint(url)
            with PeakMemory() as memory, MachineShare() as machine:
                result = run_ingestion(**run, incremental=False, keep_pipeline=True)
            summary = result.summaries[0]
            assert not summary.error, summary.error
            end_to_end = summary.fetched / result.seconds
            copy_rate = raw_copy_rate(url)
            empty_tables(url)
            checkpoint(url)
            with PeakMemory() as reload_memory:
                reload = run_ingestion(**run, incremental=False, keep_pipeline=True)
            assert reload.summaries[0].inserted == summary.fetched, reload.summaries[0]
            incremental = {}
            if changes:
                for label, keep in (("kept_pipeline", True), ("new_pipeline", False)):
                    if not keep:
                        stop_pipeline(url, server.url, None, shape)
                    server.apply_changes(changes_for(url, changes))
                    inc = run_ingestion(**run, incremental=True, keep_pipeline=keep)
                    assert inc.summaries[0].updated == changes, inc.summaries[0]
                    incremental[label] = round(inc.seconds, 1)
            stop_pipeline(url, server.url, None, shape)
        return {
            "rows": summary.fetched,
            "seconds": result.seconds,
            "end_to_end_rows_s": end_to_end,
            "raw_copy_rows_s": copy_rate,
            "ratio": end_to_end / copy_rate,
            "kept_pipeline_reload_rows_s": reload.summaries[0].fetched / reload.seconds,
            "peak_pss_mb": memory.peak / 2**20,
            "peak_pss_by_role_mb": memory.at_peak,
            "kept_pipeline_reload_peak_pss_mb": reload_memory.peak / 2**20,
            "memory_sampler_cpu_s": round(memory.cpu_seconds, 1),
            "machine_busy": machine.busy,
            "machine_steal": machine.steal,
            "incremental_s": incremental,
        }
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def measure_in_own_process(rows: int, changes: int, shape: PipelineShape) -> dict:
    """`measure` in a new process with its own Ray: the driver's peak then holds nothing of an earlier size's
    measurement (the raw COPY buffer of a 1M-row run counted ~90 MB into the 3M driver's peak)."""
    ray_runtime.connect(load_settings(ray_num_cpus=4, ray_object_store_mb=1000), include_dashboard=False)
    return measure(rows, changes, shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, action="append", help="dataset sizes (repeatable)")
    parser.add_argument("--changes", type=int, default=80_000)
    parser.add_argument("--page-size", type=int, default=PipelineShape().page_size)
    parser.add_argument("--fetchers", type=int, default=PipelineShape().fetchers)
    parser.add_argument("--writers", type=int, default=PipelineShape().writers)
    parser.add_argument("--write-connections", type=int, default=PipelineShape().write_connections)
    parser.add_argument("--active-partitions", type=int, default=PipelineShape().active_partitions)
    args = parser.parse_args()
    shape = PipelineShape(fetchers=args.fetchers, writers=args.writers, write_connections=args.write_connections,
                          page_size=args.page_size, active_partitions=args.active_partitions)  # fmt: skip
    for rows in args.rows or [1_000_000]:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            figures = pool.submit(measure_in_own_process, rows, args.changes, shape).result()
        print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
