"""What the stand-in spends serving a day of 311's incremental reads (issue 21; not a pytest test).

    PYTHONPATH=. .venv/bin/python benchmarks/standin_day_reads.py --scale 0.05 --days 5 --work DIR [--drop-caches]

311 alone is synthesized at `--scale` of the city with `--days` change files (kept in DIR/city for the next run),
stored as `nyc_full.py` stores it (stamped with the snapshot's day, its rows stripped), and served by the replay
server; then, day by day, the change file is published and a child process reads every partition's pages the way
the ingester does (`SocrataSource.page_body`, keyset on `:updated_at, :id`, 10,000 rows a page). Prints, a day,
the publish's wall and CPU, and the read's rows and wall with this process's CPU (the server's: the reader is the
child), user and system, and the bytes it read from disk. `--drop-caches` (root) empties the page cache before each
day's read, as a store larger than the memory left beside PostgreSQL is read at full size.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.nyc_full import ROOT, build_in_store, day_of, reader_fields
from citysim.replay.dataset_stores import DatasetStores
from citysim.replay.server import ReplayServer
from citysim.replay.store import discover_sources
from sentinel.datasets import load_datasets
from sentinel.ingest.pipeline import OVERLAP
from sentinel.ingest.socrata import SocrataSource, cursor_after
from sentinel.ingest.watermarks import Watermark, plan_read

DATASET = "service_requests_311"
PAGE = 10_000


def read_day(url: str, since: str) -> int:
    """Every partition's rows from where the ingester's next read starts after a read that ended at `since` and
    began now (`watermarks.plan_read`); returns how many."""
    spec = load_datasets()[DATASET]
    source = SocrataSource(url)
    mark = Watermark(DATASET, "", datetime.fromisoformat(since.replace("Z", "+00:00")), completed=True,
                     read_started_at=datetime.now(UTC))  # fmt: skip
    start = plan_read(mark, incremental=True, overlap=OVERLAP).cursor
    assert start is not None
    rows = 0
    for where in spec.partitions().values():
        cursor = start
        while True:
            page = orjson.loads(
                source.page_body(spec.socrata_id, where=where, cursor=cursor, incremental=True, limit=PAGE)
            )
            rows += len(page)
            if len(page) < PAGE:
                break
            cursor = cursor_after(page[-1], incremental=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--drop-caches", action="store_true")
    parser.add_argument("--read", nargs=2, metavar=("URL", "SINCE"), help=argparse.SUPPRESS)  # the child
    args = parser.parse_args()
    if args.read:
        print(read_day(*args.read))
        return
    spec = load_datasets()[DATASET]
    city = args.work / "city"
    if not city.exists():
        subprocess.run(
            [str(ROOT / ".venv/bin/vsentinel"), "synth", "--nyc-scale", str(args.scale), "--change-days",
             str(args.days), "--no-truth", "--compress", "--out", str(city), "--datasets", DATASET],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    days = sorted((city / "changes").glob("*.json*"))[: args.days]
    as_of = date.fromisoformat(day_of(days[0])) - timedelta(days=1)
    snapshot_at = f"{as_of.isoformat()}T14:50:00.000Z"
    shutil.rmtree(args.work / "stores", ignore_errors=True)
    store = DatasetStores(args.work / "stores")
    build_in_store(store.folder, spec.socrata_id, discover_sources(city)[spec.socrata_id][0], snapshot_at)
    store.add(spec.socrata_id)
    store.strip_rows(spec.socrata_id, reader_fields(spec), f"{(as_of - timedelta(days=1)).isoformat()}T14:50:00.000Z")
    server = ReplayServer(store).start()
    since = snapshot_at
    try:
        for path in days:
            t0, c0 = time.perf_counter(), time.process_time()
            applied = server.apply_changes_file(path)
            published = time.perf_counter() - t0, time.process_time() - c0
            if args.drop_caches:
                os.sync()
                Path("/proc/sys/vm/drop_caches").write_text("1\n")
            before, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            child = [sys.executable, __file__, "--work", str(args.work), "--read", server.url, since]
            rows = int(subprocess.run(child, check=True, capture_output=True, text=True).stdout)
            wall, after = time.perf_counter() - t1, resource.getrusage(resource.RUSAGE_SELF)
            user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
            read_mb = (after.ru_inblock - before.ru_inblock) * 512 / 1e6
            print(
                f"day {day_of(path)}: published in {published[0]:.1f} s ({published[1]:.1f} CPU s); {rows:,} rows "
                f"read in {wall:.1f} s; the stand-in's CPU {user + system:.2f} s (user {user:.2f}, system "
                f"{system:.2f}), {read_mb:,.0f} MB from disk",
                flush=True,
            )
            since = applied[spec.socrata_id]["updated_at"]
    finally:
        server.stop()


if __name__ == "__main__":
    main()
