"""Efficiency of a load against nycdb (issue 21): the same portal CSV of HPD violations loaded by nycdb 0.4.1 into
its own database and by `vsentinel ingest --full` (against the replay server serving that CSV) into another.

    nice -n 19 .venv/bin/python benchmarks/nycdb_compare.py --rows 1000000 --runs 2 [--engines ray,local]

The CSV is built from the 100 real rows of shared/realdata/hpd_violations/nycdb/hpd_violations.csv (a portal export
of wvxf-dwi5, see SOURCES.md), cycled, with ViolationID and NOVID made unique so every row is distinct. nycdb is
installed from PyPI into its own virtualenv under benchmarks/.data (gitignored), once.

Per run and tool it prints: wall time; CPU seconds (user+sys) of the whole process tree of the command (for the
pipeline: the CLI, the Ray it starts and every Ray worker; not the replay server, which stands in for the city's
API and runs in a process of its own); the CPU of the PostgreSQL backends serving that database (counted apart:
neither tree holds the server); CPU per row; the peak of the tree's summed RSS (sampled every 0.2 s; shared pages
such as Ray's object store count once per process that maps them, so this overstates, never understates); and
the size of the table (pg_total_relation_size: heap, TOAST and indexes) and, for the pipeline, of its source
records kept apart a page at a time (`source_pages`, sentinel/source_pages.py). Runs alternate nycdb / pipeline so
a change of the machine's load hits both alike.
Not a test: nothing here gates CI. Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
import psutil
import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / ".data"
SAMPLE = ROOT.parent / "shared" / "realdata" / "hpd_violations" / "nycdb" / "hpd_violations.csv"
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
HPD = "wvxf-dwi5"
NYCDB_VERSION = "0.4.1"
SAMPLE_EVERY_S = 0.2


def build_csv(rows: int) -> Path:
    """DATA/nycdb-compare-N/hpd_violations.csv (nycdb's file name), hard-linked as replay/wvxf-dwi5.csv."""
    folder = DATA / f"nycdb-compare-{rows}"
    path = folder / "hpd_violations.csv"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    with SAMPLE.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        base = list(reader)
    vid, novid = header.index("ViolationID"), header.index("NOVID")
    partial = path.with_suffix(".partial")
    with partial.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for n in range(rows):
            row = list(base[n % len(base)])
            row[vid] = str(20_000_000 + n)  # unique keys; every other value is the real row's
            row[novid] = str(9_000_000 + n)
            writer.writerow(row)
    partial.rename(path)
    return path


def replay_dir(path: Path) -> Path:
    folder = path.parent / "replay"
    folder.mkdir(exist_ok=True)
    target = folder / f"{HPD}.csv"
    if not target.exists():
        os.link(path, target)
    return folder


def nycdb_bin() -> Path:
    venv = DATA / f"nycdb-{NYCDB_VERSION}-venv"
    exe = venv / "bin" / "nycdb"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"nycdb=={NYCDB_VERSION}"], check=True)
    return exe


@dataclass
class Figures:
    tool: str
    run: int
    rows: int
    wall_s: float
    tree_cpu_s: float
    backend_cpu_s: float
    peak_rss_mb: float
    table_mb: float
    load_avg_start: tuple[float, float, float] = (0.0, 0.0, 0.0)
    tree_cpu_by_name: dict[str, float] = field(default_factory=dict)
    rss_mb_at_peak_by_name: dict[str, int] = field(default_factory=dict)
    records_mb: float = 0.0  # the pipeline's source records kept apart (source_pages), beside the table
    # The replay server's CPU while the pipeline loaded: the city's API, outside the tree, but on the same cores.
    stand_in_cpu_s: float = 0.0

    @property
    def tree_cpu_us_per_row(self) -> float:
        return self.tree_cpu_s / self.rows * 1e6

    @property
    def total_cpu_us_per_row(self) -> float:
        return (self.tree_cpu_s + self.backend_cpu_s) / self.rows * 1e6


class TreeSampler:
    """CPU and summed RSS of a process and all its descendants, plus the CPU of the PostgreSQL backends of one
    database (found by the database's name in their process titles). CPU per process is the last value seen
    while it lived, so a process loses at most its last 0.2 s; the peak RSS is the largest sampled sum."""

    def __init__(self, root: int, database: str) -> None:
        self.root = root
        self.database = database
        self.cpu: dict[int, tuple[str, float]] = {}
        self.backend_cpu: dict[int, float] = {}
        self.peak_rss = 0
        self.rss_at_peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        try:
            root = psutil.Process(self.root)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            procs = []
        by_name: dict[str, int] = {}
        for proc in procs:
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    rss = proc.memory_info().rss
                    name = proc.name()
                    if name.startswith("python"):  # Ray's helper processes: named by their script
                        name = next((Path(a).name for a in proc.cmdline()[1:] if a.endswith(".py")), name)
                self.cpu[proc.pid] = (name, times.user + times.system)
                by_name[name] = by_name.get(name, 0) + rss
            except psutil.Error:
                continue
        if sum(by_name.values()) > self.peak_rss:
            self.peak_rss = sum(by_name.values())
            self.rss_at_peak = {n: round(b / 2**20) for n, b in sorted(by_name.items(), key=lambda kv: -kv[1])}
        marker = f" {self.database} "
        for proc in psutil.process_iter(["name", "cmdline"]):
            cmd = " ".join(proc.info["cmdline"] or [])
            if cmd.startswith("postgres: ") and marker in cmd:
                try:
                    times = proc.cpu_times()
                except psutil.Error:
                    continue
                self.backend_cpu[proc.pid] = times.user + times.system

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(SAMPLE_EVERY_S)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def by_name(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, cpu in self.cpu.values():
            out[name] = round(out.get(name, 0.0) + cpu, 1)
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def figures(
    tool: str, run: int, rows: int, wall: float, s: TreeSampler, table_mb: float, load: tuple[float, float, float]
) -> Figures:
    tree_cpu = round(sum(c for _, c in s.cpu.values()), 1)
    backend = round(sum(s.backend_cpu.values()), 1)
    return Figures(tool, run, rows, round(wall, 1), tree_cpu, backend, round(s.peak_rss / 2**20), table_mb,
                   load, s.by_name(), s.rss_at_peak)  # fmt: skip


def run_measured(cmd: list[str], env: dict[str, str], database: str, log: Path) -> tuple[float, TreeSampler]:
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(["nice", "-n", "19", *cmd], env=env, stdout=out, stderr=subprocess.STDOUT)
        with TreeSampler(proc.pid, database) as sampler:
            code = proc.wait()
            wall = time.perf_counter() - started
            sampler._sample()  # the backends' last figures, before the caller drops the database
    if code != 0:
        raise RuntimeError(f"{cmd[0]} exited {code}; see {log}")
    return wall, sampler


def create_db(name: str) -> str:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
        conn.execute("CHECKPOINT")  # each load starts from a fresh checkpoint, not in the middle of another's
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def drop_db(name: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def relation_mb(url: str, table: str) -> float:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_total_relation_size(to_regclass(%s))", (table,)).fetchone()
    return round((row[0] or 0) / 2**20, 1) if row else 0.0


def count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]


def load_nycdb(csv_path: Path, run: int, rows: int, logs: Path) -> Figures:
    name = f"load_efficiency_nycdb_{run}"
    url = create_db(name)
    try:
        load = os.getloadavg()
        cmd = [str(nycdb_bin()), "--load", "hpd_violations", "--root-dir", str(csv_path.parent), "--hide-progress",
               "-H", "127.0.0.1", "-U", "postgres", "-P", "unused", "-D", name]  # fmt: skip
        wall, s = run_measured(cmd, dict(os.environ), name, logs / f"nycdb-{run}.log")
        loaded = count(url, "hpd_violations")
        assert loaded == rows, f"nycdb loaded {loaded} of {rows}"
        return figures("nycdb", run, loaded, wall, s, relation_mb(url, "hpd_violations"), load)
    finally:
        drop_db(name)


class Replay:
    """`vsentinel replay` serving the CSV's folder, in a process of its own (not part of either tree)."""

    def __init__(self, folder: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        cmd = [str(ROOT / ".venv" / "bin" / "vsentinel"), "replay", "--data", str(folder), "--port", str(port)]
        self._proc = subprocess.Popen(["nice", "-n", "19", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self) -> Replay:
        deadline = time.monotonic() + 1800  # the first start builds the SQLite store of the file
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError("replay server exited")
            try:
                requests.get(f"{self.url}/api/views/{HPD}.json", timeout=5).raise_for_status()
                return self
            except requests.RequestException:
                time.sleep(0.5)
        raise RuntimeError("replay server did not start")

    def cpu_s(self) -> float:
        times = psutil.Process(self._proc.pid).cpu_times()
        return times.user + times.system

    def __exit__(self, *exc: object) -> None:
        self._proc.terminate()
        self._proc.wait(30)


def load_pipeline(replay: Replay, run: int, rows: int, logs: Path, engine: str) -> Figures:
    name = f"load_efficiency_vs_{engine}_{run}"
    url = create_db(name)
    data_dir = Path(tempfile.mkdtemp(prefix="load-efficiency-vs-"))
    try:
        env = {**os.environ, "VS_DATABASE_URL": url, "VS_REDIS_URL": "redis://127.0.0.1:6379/14",
               "VS_DATA_DIR": str(data_dir), "RAY_TMPDIR": str(data_dir / "ray")}  # fmt: skip
        load = os.getloadavg()
        cmd = [str(ROOT / ".venv" / "bin" / "vsentinel"), "ingest", "--full", "-d", "hpd_violations",
               "--source", replay.url, "--json", "--engine", engine]  # fmt: skip
        served_before = replay.cpu_s()
        wall, s = run_measured(cmd, env, name, logs / f"pipeline-{engine}-{run}.log")
        served = round(replay.cpu_s() - served_before, 1)
        loaded = count(url, "violations")
        assert loaded == rows, f"the pipeline loaded {loaded} of {rows}"
        result = figures(f"pipeline-{engine}", run, loaded, wall, s, relation_mb(url, "violations"), load)
        result.records_mb = relation_mb(url, "source_pages")
        result.stand_in_cpu_s = served
        return result
    finally:
        drop_db(name)
        shutil.rmtree(data_dir, ignore_errors=True)


def spread(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]}"
    return f"{min(values)}-{max(values)} (median {statistics.median(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--only", choices=("nycdb", "pipeline"), help="measure one tool only")
    parser.add_argument(
        "--engines", default="ray,local", help="the pipeline's engines, comma-separated (vsentinel ingest --engine)"
    )
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    csv_path = build_csv(args.rows)
    logs = csv_path.parent / "logs"
    logs.mkdir(exist_ok=True)
    results: list[Figures] = []
    with Replay(replay_dir(csv_path), port=18_000 + secrets.randbelow(2000)) as replay:
        for run in range(1, args.runs + 1):
            if args.only != "pipeline":
                results.append(load_nycdb(csv_path, run, args.rows, logs))
                print(orjson.dumps(asdict(results[-1])).decode(), flush=True)
            for engine in engines if args.only != "nycdb" else ():
                results.append(load_pipeline(replay, run, args.rows, logs, engine))
                print(orjson.dumps(asdict(results[-1])).decode(), flush=True)
    print(f"\n{args.rows:,} rows, {args.runs} run(s) each; load average at the end {os.getloadavg()}")
    header = ("tool", "wall s", "tree CPU s", "tree CPU us/row", "backend CPU s", "tree+backend us/row",
              "peak tree RSS MB", "table MB", "records apart MB", "stand-in CPU s")  # fmt: skip
    print(" | ".join(header))
    for tool in ("nycdb", *(f"pipeline-{e}" for e in engines)):
        mine = [r for r in results if r.tool == tool]
        if not mine:
            continue
        cells = [
            tool,
            spread([r.wall_s for r in mine]),
            spread([r.tree_cpu_s for r in mine]),
            spread([round(r.tree_cpu_us_per_row, 1) for r in mine]),
            spread([r.backend_cpu_s for r in mine]),
            spread([round(r.total_cpu_us_per_row, 1) for r in mine]),
            spread([r.peak_rss_mb for r in mine]),
            spread([r.table_mb for r in mine]),
            spread([r.records_mb for r in mine]),
            spread([r.stand_in_cpu_s for r in mine]),
        ]
        print(" | ".join(map(str, cells)))


if __name__ == "__main__":
    main()
