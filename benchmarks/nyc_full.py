"""NYC at full size on one machine (issue 21), or a fraction of it (not a pytest test).

    nice -n 19 .venv/bin/python benchmarks/nyc_full.py --scale 0.02 [--city DIR] [--days 7] [--samples 4]
        [--rounds 60] [--remove-files] [--builds-apart] [--keep] [--load-engine ray|local]

Stages, each timed (wall, CPU of this process tree, peak RSS of this process tree sampled every 0.25 s, as a sum
and per process role: the driver, Ray's daemons, the ingestion actors, Train workers, Tune trials, ...; database
size after it; the disk the run has taken at the stage's peak, against the free space at its start):

1. synth: `vsentinel synth --nyc-scale S --change-days D --no-truth --compress` (skipped with --city: a city
   written so, compressed or not).
2. first load, dataset by dataset, the largest file first: the dataset's file goes into the replay store (a
   file per dataset, `citysim.replay.dataset_stores`, served throughout; the next dataset's is built in a process
   of its own while this one loads where the disk has room for it, else after; with --builds-apart always after),
   then the pipeline's full load of that dataset into a fresh PostgreSQL database (on Ray, or with --load-engine
   local on this machine's processes, `vsentinel ingest --engine local`); with --remove-files the file
   is deleted once the store holds it (the store is the source from then on). After its load an incremental
   dataset's rows are cut to what the ingester's later reads look at (`ReplayStore.strip_rows`, into a new file; a
   day's change brings a row back whole), so the store holds one or two datasets whole at a time;
   --keep-loaded-rows keeps them.
3. features and a sweep: `training.pipeline.run` with a Tune sweep of --samples trials, promoting the models.
4. scoring every lot: `ScoreService.score_all`.
5. a week of daily increments: each day's change file applied to the replay server, then what the scheduler's
   ingest job does (incremental Ray ingestion with the pipeline kept, alert evaluation of the run, outbox drain
   to the console channel: source -> notification) and then its rescore job (`rescore_changed`, the scores'
   evaluation against the risk_score rules and a drain: source -> score alerts), timed per day.

Alert rules: --orgs organizations each watching --per-org lots drawn from the loaded properties, one rule per
condition of benchmarks/alerts.py's list each. Prints a markdown section for benchmarks/RESULTS.md. PostgreSQL:
VS_BENCH_PG (default postgresql://postgres@127.0.0.1:5432/postgres); the database is dropped unless --keep.

A stage at full size within this machine's disk: `--datasets hpd_violations,pluto,hpd_registrations` synthesizes and
loads only those, `--load-only --keep` stops after the load and keeps the database, and `--database NAME --days 0`
runs the sweep and the scoring on it later (from another checkout, say, with another training change);
`--database NAME --work DIR --days D` also serves that run's store again and runs its days (a run stopped after its
first load, its database and work folder kept, resumes so).
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import orjson
import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.alerts import CONDITIONS
from citysim.replay.dataset_stores import DatasetStores, build_dataset_file
from citysim.replay.formats import dataset_file_suffix
from citysim.replay.server import ReplayServer
from citysim.replay.store import discover_sources, utc_timestamp
from citysim.synth.nyc import NYC_LOTS
from cluster import ray_runtime
from cluster.ingest import run_ingestion
from cluster.scheduler import LocalAlerts
from sentinel.datasets import DatasetConfig, load_datasets
from sentinel.db import migrate
from sentinel.ingest.pipeline import OVERLAP
from sentinel.risk.service import ScoreService, connect_to
from sentinel.settings import Settings, load_settings
from tests.conftest import create_database, database_url_for, drop_database
from tests.ingest.conftest import table_checksums
from training import pipeline
from training.config import load_training_settings

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Stage:
    name: str
    wall: float = 0.0
    cpu: float = 0.0
    peak_mb: float = 0.0
    rows: int = 0
    db_mb: float = 0.0
    note: str = ""
    # disk taken above what was free when the benchmark started (its files, the store, PostgreSQL's growth, Ray's
    # spilled objects), at the stage's highest sample, MB
    disk_mb: float = 0.0
    # role -> (peak RSS of the role's processes summed at one sample, their private part (RSS - shared) at that
    # sample, most processes of the role at once), all MB but the count
    roles: dict[str, tuple[float, float, int]] = field(default_factory=dict)

    @property
    def rate(self) -> str:
        return f"{self.rows / self.wall:,.0f}" if self.rows and self.wall else "-"


class DiskWatch:
    """Free space of the file systems the benchmark writes to (its work folder, PostgreSQL's data directory, Ray's
    temporary folder), against the free space when it started: the disk the run takes at a moment."""

    def __init__(self, paths: list[Path]) -> None:
        by_device: dict[int, Path] = {}
        for path in paths:
            by_device.setdefault(os.stat(path).st_dev, path)
        self.paths = list(by_device.values())
        self.start = self.free()

    def free(self) -> int:
        return sum(shutil.disk_usage(path).free for path in self.paths)

    def used(self) -> int:
        return self.start - self.free()


DISK: DiskWatch | None = None  # set by main() before the first stage


def _tree() -> list[psutil.Process]:
    me = psutil.Process()
    return [me, *me.children(recursive=True)]


# Ray's own processes by the program they run: two binaries, the rest Python scripts (matched on the script, not
# the whole command line: a starting worker's arguments name the raylet's socket).
_DAEMONS = {
    "gcs_server": "ray gcs_server",
    "raylet": "ray raylet",
    "dashboard/agent.py": "ray dashboard agent",
    "dashboard/dashboard.py": "ray dashboard",
    "runtime_env/agent/main.py": "ray runtime_env agent",
    "log_monitor.py": "ray log_monitor",
    "autoscaler/_private/monitor.py": "ray autoscaler monitor",
    "workers/setup_worker.py": "ray worker (starting)",
    "workers/default_worker.py": "ray worker (starting)",
    "bin/vsentinel": "synth",
}
# Ray worker titles (`ray::<class or task>[.method]`) for the project's actors and Ray's Train/Tune ones.
_WORKERS = {
    "IDLE": "ray::IDLE (pooled worker)",
    "IngestCoordinator": "ingest coordinator",
    "Fetcher": "ingest fetcher",
    "BoroughNormalizer": "ingest normalizers",
    "Writer": "ingest writer",
    "RayTrainWorker": "Train workers",
    "TrainController": "Train controller",
    "ImplicitFunc": "Tune trial actors",
    "DashboardAgent": "ray dashboard agent",
    "RuntimeEnvAgent": "ray runtime_env agent",
}


def role_of(proc: psutil.Process, driver_pid: int) -> str:
    """What a process of the tree is, from its title: Ray sets a worker's to `ray::IDLE` or `ray::<Actor>.<method>`
    (a worker changes role when it is given an actor, so this is read at every sample)."""
    if proc.pid == driver_pid:
        return "driver (+ replay server thread, scoring)"
    args = proc.cmdline() or [proc.name()]  # an exiting process has no command line left, only its short name
    if args[0].startswith("ray::"):
        name = args[0][5:].split()[0].split(".")[0] if len(args[0]) > 5 else "?"
        return next((role for prefix, role in _WORKERS.items() if prefix.startswith(name)), f"ray::{name}")
    if "sentinel.ingest.normalizer_process" in args[:3]:
        return "ingest normalizers (local engine)"
    if "ingest" in args[1:3] and any(a.endswith("bin/vsentinel") for a in args[:2]):
        return "ingest command (local engine)"
    for arg in args[:3]:
        for program, role in _DAEMONS.items():
            if arg.endswith(program):
                return role
    parent = proc.parent()
    if parent is not None and any(a.endswith("bin/vsentinel") for a in parent.cmdline()[:2]):
        return "synth writer processes"
    if any("multiprocessing" in a for a in args[:4]):
        return BUILDER
    return Path(args[0]).name


# The process that builds the next dataset's store beside a load: its CPU is its own stage's (it measures it
# itself), not the load's; its memory counts in the tree's, as it is held at the same time.
BUILDER = "the stand-in's store builder (the next dataset)"


@contextmanager
def measured(stage: Stage) -> Iterator[Stage]:
    """Wall, CPU and peak RSS of this process and every process under it (Ray's raylet, workers and actors), as a
    sum and per role (`role_of`).

    Sampled every 0.25 s per process: a process that ends counts with its last sample (up to 0.25 s of its CPU
    can be missed); one that started during the stage counts from zero. RSS counts the pages of Ray's object store
    (shared memory) a process touched in every process that touched them, so sums overstate; the private part
    (RSS - shared: the process's own heap) does not."""
    stop = threading.Event()
    disk = [0]
    first: dict[tuple[int, float], float] = {}
    last: dict[tuple[int, float], float] = {}
    builders: set[tuple[int, float]] = set()
    peak = [0.0]
    roles: dict[str, tuple[float, float, int]] = {}
    driver = os.getpid()

    def sample(initial: bool = False) -> None:
        rss = 0
        now: dict[str, list[float]] = {}
        for p in _tree():
            try:
                with p.oneshot():
                    key = (p.pid, p.create_time())
                    t = p.cpu_times()
                    mem = p.memory_info()
                    role = role_of(p, driver)
            except psutil.Error:
                continue
            rss += mem.rss
            r = now.setdefault(role, [0.0, 0.0, 0])
            r[0] += mem.rss / 1e6
            r[1] += (mem.rss - mem.shared) / 1e6
            r[2] += 1
            cpu = t.user + t.system
            if role == BUILDER:
                builders.add(key)
            if initial:
                first[key] = cpu
            last[key] = cpu
        peak[0] = max(peak[0], rss / 1e6)
        if DISK is not None:
            disk[0] = max(disk[0], DISK.used())
        roles.update(merge_roles([roles, {role: (r[0], r[1], int(r[2])) for role, r in now.items()}]))

    def loop() -> None:
        while not stop.wait(0.25):
            sample()

    sample(initial=True)
    sampler = threading.Thread(target=loop, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    try:
        yield stage
    finally:
        stage.wall += time.perf_counter() - t0
        stop.set()
        sampler.join()
        sample()
        stage.cpu += sum(cpu - first.get(key, 0.0) for key, cpu in last.items() if key not in builders)
        stage.peak_mb = max(stage.peak_mb, peak[0])
        stage.disk_mb = max(stage.disk_mb, disk[0] / 1e6)
        stage.roles = merge_roles([stage.roles, roles])
        # As it ends, so that a run that fails later still leaves each stage's figures in its log.
        print(
            f"stage done: {stage.name}: wall {stage.wall:.1f} s, CPU {stage.cpu:.1f} s, peak RSS {stage.peak_mb:,.0f} "
            f"MB, disk taken {stage.disk_mb:,.0f} MB, roles {stage.roles}",
            flush=True,
        )


def merge_roles(parts: list[dict[str, tuple[float, float, int]]]) -> dict[str, tuple[float, float, int]]:
    """Per role, the highest of several stages' peaks (a group of stages' peak per role)."""
    out: dict[str, tuple[float, float, int]] = {}
    for part in parts:
        for role, (r_rss, r_private, n) in part.items():
            old = out.get(role, (0.0, 0.0, 0))
            top = (r_rss, r_private) if r_rss > old[0] else old[:2]
            out[role] = (*top, max(n, old[2]))
    return out


def build_in_store(folder: Path, dataset_id: str, path: Path, timestamp: str) -> tuple[int, float, float, float]:
    """A dataset's file into its own file of the stand-in's store (run in the builder process beside a load, or
    in this one). Returns the rows, wall s, CPU s of this process and its peak RSS in MB."""
    t0, c0 = time.perf_counter(), time.process_time()
    rows = build_dataset_file(folder, dataset_id, [path], timestamp)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    return rows, time.perf_counter() - t0, time.process_time() - c0, peak_mb


def stores_size(stores: DatasetStores) -> int:
    """Bytes of the stand-in's files (the datasets' and their WALs)."""
    return sum(f.stat().st_size for f in stores.folder.iterdir() if f.is_file())


# Disk left free whatever the run does next: PostgreSQL's WAL and temporary files, Ray's spilling (allowed up to
# 99 % of the disk), the logs.
DISK_RESERVE = 10 * 2**30
# PostgreSQL's growth a loaded row, at most, for deciding what fits (violations are the largest per row; their
# measured size: benchmarks/RESULTS.md, "The whole city at full size").
PG_BYTES_A_ROW = 1_200


def builds_beside(free: int, next_file: Path, store_per_file_byte: float, loading_rows: int) -> bool:
    """Whether the next dataset's store fits beside this load: its file's bytes at the store's largest ratio to its
    file so far, and PostgreSQL's growth by this load, within the free disk less the reserve."""
    needed = next_file.stat().st_size * store_per_file_byte * 1.2 + loading_rows * PG_BYTES_A_ROW
    return free - needed > DISK_RESERVE


def day_of(path: Path) -> str:
    """`2024-12-31` of a change file `2024-12-31.json[.zst]`."""
    suffix = dataset_file_suffix(path) or path.suffix
    return path.name[: -len(suffix)]


def reader_fields(spec: DatasetConfig) -> list[str]:
    """The fields the ingester's queries of a dataset filter on: its partition column and its row filter's."""
    fields = [spec.partition.field] if spec.partition.field else []
    return fields + re.findall(r"[a-z_][a-z0-9_]*", spec.row_filter or "")


def db_size_mb(url: str) -> float:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return row[0] / 1e6 if row else 0.0


def server_counters(url: str) -> tuple[int, int, int]:
    """WAL bytes the server has written, and the database's blocks read (not in shared_buffers) and hit, so far: a
    stage's are the difference. The WAL is the whole server's (nothing else should run beside a benchmark); the
    block counters are flushed by each backend at most once a second, so a stage's are close, not exact."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, blks_read, blks_hit"
            " FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def seed_rules(url: str, orgs: int, per_org: int, seed: int) -> int:
    """Organizations watching lots of the loaded city, one rule per benchmark condition each."""
    rng = random.Random(seed)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        bbls = [r[0] for r in cur.execute("SELECT bbl FROM properties ORDER BY bbl").fetchall()]
        watched = rng.sample(bbls, min(len(bbls), orgs * per_org))
        cur.execute("INSERT INTO organizations (name) SELECT 'org ' || g FROM generate_series(1, %s) g", (orgs,))
        cur.execute("INSERT INTO portfolios (org_id, name) SELECT id, 'main' FROM organizations")
        with cur.copy("COPY portfolio_buildings (portfolio_id, bbl) FROM STDIN") as copy:
            for i, bbl in enumerate(watched):
                copy.write_row((1 + i // per_org, bbl))
        rules = 0
        with cur.copy("COPY alert_rules (org_id, name, condition, scope, channels) FROM STDIN") as copy:
            for org in range(1, orgs + 1):
                for k, condition in enumerate(CONDITIONS):
                    channels = orjson.dumps([{"kind": "email", "target": f"org{org}@example.com"}]).decode()
                    copy.write_row(
                        (org, f"rule {k}", orjson.dumps(condition).decode(), '{"type": "organization"}', channels)
                    )
                    rules += 1
        conn.commit()
    return rules


def full_load(engine: str, url: str, source_url: str, dataset: str, settings: Settings) -> int:
    """A dataset's first load; the rows it fetched. On Ray from this process (its actors are processes of their
    own); on the local engine as `vsentinel ingest --engine local` in a process of its own, as a user runs it: its
    fetch and write threads in this process would share one interpreter with the stand-in's page serving."""
    if engine == "ray":
        result = run_ingestion(
            database_url=url, source_url=source_url, app_token=None, datasets=[dataset], incremental=False
        )
        if result.failed:
            raise SystemExit(f"ingestion failed: {[(s.dataset, s.error) for s in result.failed]}")
        return sum(s.fetched for s in result.summaries)
    env = {**os.environ, "VS_DATABASE_URL": url, "VS_INGEST_ENGINE": "local"}
    if settings.redis_url is not None:
        env["VS_REDIS_URL"] = str(settings.redis_url)
    command = [str(ROOT / ".venv/bin/vsentinel"), "ingest", "--full", "-d", dataset, "--source", source_url, "--json"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"ingestion failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return sum(s["fetched"] for s in orjson.loads(done.stdout)["summaries"])  # `--json`: the one document on stdout


def first_load(
    args: argparse.Namespace, settings: Settings, url: str, work: Path, stages: list[Stage], facts: dict[str, str]
) -> tuple[DatasetStores, ReplayServer, dict[str, DatasetConfig], list[Path], int]:
    """Synth (unless --city), then each dataset into the replay store and loaded by the pipeline; appends its
    stages. Returns the store, its running server, the datasets, the change files and the store's peak size."""
    city = args.city or work / "city"
    if args.city is None:
        with measured(Stage("synth")) as st:
            subprocess.run(
                [str(ROOT / ".venv/bin/vsentinel"), "synth", "--nyc-scale", str(args.scale), "--change-days",
                 str(args.days), "--no-truth", "--compress", "--out", str(city),
                 *(["--datasets", args.datasets] if args.datasets else [])],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        st.note = f"{dir_size(city) / 1e6:,.0f} MB written (zstd)"
        stages.append(st)
    facts["city"] = f"{dir_size(city) / 1e6:,.0f} MB of zstd-compressed JSON incl. {args.days} change files"
    if args.load_engine == "ray" or not args.load_only:  # a local load alone starts no Ray
        ray_runtime.connect(settings, include_dashboard=False)
    store = DatasetStores(work / "stores")
    server = ReplayServer(store).start()
    datasets = load_datasets()
    if args.datasets:
        names = [n.strip() for n in args.datasets.split(",") if n.strip()]
        datasets = {name: datasets[name] for name in names}
        facts["datasets"] = ", ".join(names)
    days = sorted((city / "changes").glob("*.json*"))[: args.days]
    # The snapshot is stamped with its as-of day (the day before the first change file), as a publisher's rows
    # carry their own past :updated_at. Stamped with the load's wall-clock time instead, every change got a
    # timestamp within the ingester's 10-minute overlap of the snapshot (the store keeps change stamps after
    # the rows it holds), so every incremental run re-read every row.
    as_of = date.fromisoformat(day_of(days[0])) - timedelta(days=1) if days else None
    snapshot_at = f"{as_of.isoformat()}T14:50:00.000Z" if as_of else utc_timestamp()
    strip_at = f"{(as_of - timedelta(days=1)).isoformat()}T14:50:00.000Z" if as_of else "2000-01-01T00:00:00.000Z"
    assert timedelta(days=1) > OVERLAP
    store_peak = 0
    total_rows = 0
    sources = discover_sources(city)
    missing = [name for name, spec in datasets.items() if spec.socrata_id not in sources]
    if missing:
        raise SystemExit(f"{city}: no file of {', '.join(missing)}")
    files = {name: sources[spec.socrata_id][0] for name, spec in datasets.items()}
    # The largest first: its store is the largest the stand-in holds whole, and PostgreSQL is emptiest then, so
    # the disk's peak is the smallest.
    order = sorted(files, key=lambda name: -files[name].stat().st_size)
    started = time.perf_counter()
    # The stand-in's store of the next dataset is built in a process of its own while the pipeline loads this
    # one, where the disk has room for it: the load leaves part of the two cores idle, and the store is the
    # stand-in's cost, not the product's.
    store_per_file_byte = 0.0
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as builder:
        built: Stage | None = None
        for i, ds_name in enumerate(order):
            spec, path = datasets[ds_name], files[ds_name]
            file_bytes = path.stat().st_size
            if built is None:
                with measured(Stage(f"store: {ds_name}")) as st_store:
                    st_store.rows = build_in_store(store.folder, spec.socrata_id, path, snapshot_at)[0]
                st_store.note = "built before its load; "
            else:
                st_store = built
            store.add(spec.socrata_id)
            own_file = store.store_for(spec.socrata_id).db_path
            store_per_file_byte = max(store_per_file_byte, own_file.stat().st_size / file_bytes)
            if args.remove_files:
                path.unlink()
            following = order[i + 1] if i + 1 < len(order) else None
            building = None
            if (
                not args.builds_apart
                and following is not None
                and builds_beside(
                    shutil.disk_usage(store.folder).free, files[following], store_per_file_byte, st_store.rows
                )
            ):
                later = datasets[following].socrata_id
                building = builder.submit(build_in_store, store.folder, later, files[following], snapshot_at)
            with measured(Stage(f"load: {ds_name}")) as st:
                st.rows = full_load(args.load_engine, url, server.url, ds_name, settings)
            built = None
            if building is not None:
                rows, wall, cpu, peak = building.result()
                built = Stage(f"store: {following}", wall=wall, cpu=cpu, peak_mb=peak, rows=rows)
                built.note = f"built beside the load of {ds_name}; "
                built.disk_mb = st.disk_mb  # sampled around the load it ran beside
            loaded_size = stores_size(store)
            store_peak = max(store_peak, loaded_size)
            stripped = ""
            if spec.change_strategy == "incremental" and not args.keep_loaded_rows:
                # The days read this dataset incrementally from here on: its loaded rows need only what the
                # reader's counts, key sweep and filters look at (ReplayStore.strip_rows), stamped a day before
                # the snapshot so the first day's read, from the snapshot's mark minus the overlap, does not fetch
                # them.
                with measured(st_store):
                    store.strip_rows(spec.socrata_id, reader_fields(spec), strip_at)
                stripped = f", {stores_size(store) / 1e6:,.0f} MB with its rows stripped"
            st.db_mb = st_store.db_mb = db_size_mb(url)
            st_store.note += (
                f"{file_bytes / 1e6:,.0f} MB file; store {loaded_size / 1e6:,.0f} MB after its load"
                + (f" (and {following}'s build)" if following else "")
                + stripped
            )
            total_rows += st.rows
            stages += [st_store, st]
            print(f"{st.name}: {st.rows:,} rows, {st.wall:.0f} s; {st_store.name} {st_store.wall:.0f} s", flush=True)
    first = [s for s in stages if s.name.startswith(("store:", "load:"))]
    stages.append(
        Stage(
            "first load, all datasets (wall; CPU summed)",
            wall=time.perf_counter() - started,
            cpu=sum(s.cpu for s in first),
            peak_mb=max(s.peak_mb for s in first),
            disk_mb=max(s.disk_mb for s in first),
            roles=merge_roles([s.roles for s in first]),
            rows=total_rows,
            db_mb=db_size_mb(url),
            note=f"store {stores_size(store) / 1e6:,.0f} MB",
        )
    )
    return store, server, datasets, days, store_peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.02, help="Fraction of the city's 858,284 lots.")
    parser.add_argument("--city", type=Path, default=None, help="A city written by `vsentinel synth --nyc-scale`.")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--samples", type=int, default=4, help="Tune sweep trials.")
    parser.add_argument("--rounds", type=int, default=60, help="Boosting rounds per trial.")
    parser.add_argument("--orgs", type=int, default=200)
    parser.add_argument("--per-org", type=int, default=25)
    parser.add_argument("--remove-files", action="store_true", help="Delete each file once the store holds it.")
    parser.add_argument(
        "--builds-apart",
        action="store_true",
        help="Build each dataset's store before its load, never beside another's: the loads' figures are then the "
        "pipeline's alone (and the stand-in's serving), at the price of the builds' wall in the whole run's.",
    )
    parser.add_argument(
        "--keep-loaded-rows",
        action="store_true",
        help="Keep incremental datasets' rows whole in the store after their load (default: cut to stubs).",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the database and the work directory.")
    parser.add_argument(
        "--load-engine",
        choices=("ray", "local"),
        default="ray",
        help="The first load's engine (vsentinel ingest --engine); the days always run on Ray, as the scheduler's.",
    )
    parser.add_argument(
        "--datasets",
        default=None,
        help="Only these datasets, comma-separated names (hpd_violations,pluto): a stage at full size within the disk.",
    )
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="Stop after the first load (with --keep, the loaded database stays for `vsentinel train` and scoring).",
    )
    parser.add_argument(
        "--database",
        default=None,
        help="A database a --load-only --keep run loaded: the sweep and the scoring on it (never dropped; no days "
        "unless --work).",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="With --database: the work folder of the run that loaded it (its stores folder and city/changes, kept "
        "by --keep or left by a run stopped after its load): the stand-in serves that store again and the days run.",
    )
    args = parser.parse_args()
    # Ray refuses to spill objects once the disk is 95 % used (its default), which the full city's store and
    # database reach on this machine while gigabytes are still free (RESULTS.md, "The whole city at full size").
    # The raylet reads RAY_<setting> from its environment when it starts.
    os.environ.setdefault("RAY_local_fs_capacity_threshold", "0.99")
    if args.database and ((args.days and not args.work) or args.load_only):
        parser.error("--database runs the stages after the first load: give it --days 0 (or --work) and no --load-only")
    if args.work and not args.database:
        parser.error("--work goes with --database")
    admin = os.environ.get("VS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = args.database or create_database(admin, "vs_fullsize")
    url = database_url_for(admin, name)
    facts: dict[str, str] = {}
    work = args.work or Path(tempfile.mkdtemp(prefix="vs-fullsize-", dir=os.environ.get("VS_BENCH_DIR")))
    global DISK
    with psycopg.connect(admin) as conn:
        data_dir = conn.execute("SHOW data_directory").fetchone()
    ray_tmp = Path(os.environ.get("RAY_TMPDIR", tempfile.gettempdir()))
    ray_tmp.mkdir(parents=True, exist_ok=True)
    watched = [work, ray_tmp]
    DISK = DiskWatch(watched + ([Path(data_dir[0])] if data_dir and Path(data_dir[0]).exists() else []))
    facts["disk"] = (
        f"{DISK.free() / 1e9:,.1f} GB free at the start on {len(DISK.paths)} file system(s) (the work folder's, "
        "Ray's temporary folder's, PostgreSQL's data directory's when readable); 'disk taken' is that minus the "
        "free space at a stage's lowest sample"
    )
    stages: list[Stage] = []
    settings = load_settings(ray_address=None)  # this process's Ray, whatever VS_RAY_ADDRESS says
    store: DatasetStores | None = None
    server: ReplayServer | None = None
    days: list[Path] = []
    store_peak = 0
    try:
        migrate.upgrade(url)
        if args.database:
            # A database loaded and kept by an earlier run: the stages after the first load, on it.
            ray_runtime.connect(settings, include_dashboard=False)
            facts["database"] = f"{args.database} (loaded by an earlier run, reused)"
            if args.work:
                store = DatasetStores(work / "stores")
                server = ReplayServer(store).start()
                datasets = load_datasets()
                days = sorted((work / "city" / "changes").glob("*.json*"))[: args.days]
                facts["work"] = f"{work} (the store and change files of the run that loaded the database)"
        else:
            store, server, datasets, days, store_peak = first_load(args, settings, url, work, stages, facts)
        with psycopg.connect(url) as conn:
            conn.execute("ANALYZE")
            # ANALYZE locks the shared catalogs it reads until its transaction ends: any other database's
            # ANALYZE on the server (a test run beside) waited for the whole training.
            conn.commit()
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM properties), (SELECT count(*) FROM violations), "
                "(SELECT count(*) FROM complaints)"
            ).fetchone()
            assert counts is not None
            facts["loaded"] = f"{counts[0]:,} properties, {counts[1]:,} violations, {counts[2]:,} complaints"
            if args.load_only:
                facts["database"] = f"{name} ({'kept' if args.keep else 'dropped'})"
                print_section(args, stages, facts)
                return

            with measured(Stage("features + sweep")) as st:
                training_settings = load_training_settings(num_boost_round=args.rounds)
                report = pipeline.run(
                    conn,
                    training_settings,
                    work / "models",
                    work / "ray_results",
                    tune=args.samples > 0,
                    samples=args.samples or None,
                    promote=True,
                    log=lambda m: print(m, flush=True),
                )
            st.rows = report.rows["train"]
            st.note = f"{report.rows['train']:,} training rows, {report.rows['test']:,} test buildings"
            stages.append(st)
        service = ScoreService(connect_to(url), model_dir=work / "models")
        with measured(Stage("score every lot")) as st:
            st.rows = service.score_all(workers=settings.score_workers)
        st.db_mb = db_size_mb(url)
        stages.append(st)
        if days:
            rules = seed_rules(url, args.orgs, args.per_org, seed=21)
            facts["rules"] = f"{rules:,} rules of {args.orgs} organizations watching {args.orgs * args.per_org:,} lots"
        alerts = LocalAlerts(url)
        for path in days:
            assert server is not None
            with measured(Stage(f"day {day_of(path)}")) as st:
                t0 = time.perf_counter()
                applied = server.apply_changes_file(path)
                publish = time.perf_counter() - t0
                t1 = time.perf_counter()
                # This process hosts the stand-in's server thread: its CPU while the run reads is the stand-in's
                # (the run's own work is in Ray's workers; this thread only waits on them).
                cpu_at_t1 = resource.getrusage(resource.RUSAGE_SELF)
                counters_at_t1 = server_counters(url)
                result = run_ingestion(
                    database_url=url,
                    source_url=server.url,
                    app_token=None,
                    datasets=list(datasets),
                    incremental=True,
                    keep_pipeline=True,
                )
                t2 = time.perf_counter()
                cpu_at_t2 = resource.getrusage(resource.RUSAGE_SELF)
                stand_in_user, stand_in_sys = (
                    cpu_at_t2.ru_utime - cpu_at_t1.ru_utime,
                    cpu_at_t2.ru_stime - cpu_at_t1.ru_stime,
                )
                stand_in_read_mb = (cpu_at_t2.ru_inblock - cpu_at_t1.ru_inblock) * 512 / 1e6
                wal, blocks_read, blocks_hit = (
                    b - a for a, b in zip(counters_at_t1, server_counters(url), strict=True)
                )
                # The scheduler's order: the ingestion job evaluates its run and sends what that produced; the
                # rescore job then scores the changed lots, evaluates their scores and sends those alerts.
                evaluated = alerts.evaluate_run(result.run_id)
                t3 = time.perf_counter()
                drained = alerts.drain()
                t4 = time.perf_counter()
                rescored = service.rescore_changed(settings.rescore_workers)
                t5 = time.perf_counter()
                scored = alerts.evaluate_scores()
                drained_scores = alerts.drain()
                t6 = time.perf_counter()
            st.rows = sum(s.fetched for s in result.summaries)
            st.db_mb = db_size_mb(url)
            published = sum(a["inserted"] + a["updated"] + a["replaced"] for a in applied.values())
            # The full-replace datasets: read whole when their rowsUpdatedAt moved, else not fetched at all.
            replaced = [s for s in result.summaries if datasets[s.dataset].change_strategy == "full_replace"]
            read = ", ".join(f"{s.dataset} {s.fetched:,}" for s in replaced if s.unchanged_since is None) or "none"
            unchanged = ", ".join(s.dataset for s in replaced if s.unchanged_since is not None) or "none"
            st.note = (
                f"{published:,} rows published in {publish:.1f} s; ingest {t2 - t1:.1f} s (the stand-in's CPU "
                f"{stand_in_user + stand_in_sys:.1f} s: user {stand_in_user:.1f}, sys {stand_in_sys:.1f}, "
                f"{stand_in_read_mb:,.0f} MB read from disk; WAL {wal / 1e6:,.0f} MB, blocks read {blocks_read:,}, "
                f"hit {blocks_hit:,}), alerts {t3 - t2:.1f} s ({evaluated['alerts_created']:,} alerts), notify "
                f"{t4 - t3:.1f} s ({drained['sent']:,} sent); source -> notification {t4 - t1:.1f} s; rescore "
                f"{t5 - t4:.1f} s ({rescored:,} lots), score alerts {t6 - t5:.1f} s ({scored['alerts_created']:,} "
                f"alerts, {drained_scores['sent']:,} sent); source -> score alerts {t6 - t1:.1f} s; "
                f"full-replace read: {read}; not read (unchanged): {unchanged}"
            )
            stages.append(st)
            print(f"{st.name}: {st.note}", flush=True)
            per_dataset = ", ".join(f"{s.dataset} {s.fetched:,} in {s.seconds:.1f} s" for s in result.summaries)
            print(f"{st.name} by dataset: {per_dataset}", flush=True)
        if store is not None:
            facts["store_peak"] = f"{store_peak / 1e6:,.0f} MB (the largest the file was after a dataset's load)"
            facts["store_final"] = f"{stores_size(store) / 1e6:,.0f} MB"
        facts["db_final"] = f"{db_size_mb(url):,.0f} MB"
        # What the days left in PostgreSQL, to compare runs that should agree (with and without stripped rows).
        try:
            sums = table_checksums(url)
        except psycopg.errors.DiskFull as error:  # its sorts' temporary files, on a disk the city has filled
            facts["tables after the days"] = f"no checksum: {str(error).splitlines()[0]}"
        else:
            print(f"table checksums: {sums}", flush=True)
            digest = hashlib.md5(orjson.dumps(sorted(sums.items()))).hexdigest()
            facts["tables after the days"] = f"md5 {digest} over {sum(n for n, _ in sums.values()):,} rows"
        print_section(args, stages, facts)
    finally:
        if server is not None:
            server.stop()
        if not args.keep and not args.database:
            drop_database(admin, name)
            shutil.rmtree(work, ignore_errors=True)


def print_section(args: argparse.Namespace, stages: list[Stage], facts: dict[str, str]) -> None:
    lots = round(NYC_LOTS * args.scale)
    print(f"\n#### Scale {args.scale} ({lots:,} lots)\n")
    for k, v in facts.items():
        print(f"- {k}: {v}")
    print(
        "\n| stage | rows | wall s | rows/s | CPU s | peak RSS MB (tree) | database MB after | disk MB taken at the "
        "peak | note |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for s in stages:
        print(
            f"| {s.name} | {s.rows:,} | {s.wall:.1f} | {s.rate} | {s.cpu:.1f} | {s.peak_mb:,.0f} | "
            f"{s.db_mb:,.0f} | {s.disk_mb:,.0f} | {s.note} |"
        )
    print_roles(stages)


# The per-role table's columns: stages grouped by what they run.
_GROUPS = (
    ("synth", ("synth",)),
    ("store (each dataset)", ("store:",)),
    ("load (each dataset)", ("load:",)),
    ("features + sweep", ("features + sweep",)),
    ("score every lot", ("score every lot",)),
    ("days", ("day ",)),
)


def print_roles(stages: list[Stage]) -> None:
    groups = [
        (title, merge_roles([s.roles for s in stages if s.name.startswith(prefixes)])) for title, prefixes in _GROUPS
    ]
    groups = [(title, roles) for title, roles in groups if roles]
    order = sorted(
        {role for _, roles in groups for role in roles}, key=lambda r: -max(g.get(r, (0,))[0] for _, g in groups)
    )
    print("\nPeak RSS per process role and stage group, MB: the role's processes summed at their highest sample, ")
    print("(private part: RSS - shared) and the most processes of the role at once.\n")
    print("| role | " + " | ".join(title for title, _ in groups) + " |")
    print("|---|" + "---|" * len(groups))
    for role in order:
        cells = []
        for _, roles in groups:
            if role in roles:
                r_rss, r_private, n = roles[role]
                cells.append(f"{r_rss:,.0f} ({r_private:,.0f})" + (f" x{n}" if n > 1 else ""))
            else:
                cells.append("-")
        print(f"| {role} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
