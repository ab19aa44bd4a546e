"""Time and peak memory to generate a synthetic city with at least 1M HPD violation rows.

    flock /tmp/vs-bench.lock .venv/bin/python benchmarks/synth.py [--buildings 36000] [--workers 2] [--out DIR]

Prints rows per dataset, wall time, CPU time (user + sys, of this process and of the worker process) and the peak
resident memory of each process. On a shared machine CPU seconds say more than wall time.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

from citysim.synth import DATASET_IDS, SynthConfig, write_city


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buildings", type=int, default=36_000)
    parser.add_argument("--start", default="2015-01-01")
    parser.add_argument("--end", default="2024-12-31")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, choices=(1, 2))
    parser.add_argument("--out", type=Path, default=None, help="keep the city here (default: a temp dir, removed)")
    parser.add_argument(
        "--discard", action="store_true", help="write every file to /dev/null: memory at sizes the disk cannot hold"
    )
    parser.add_argument("--tracemalloc", action="store_true", help="also report this process's peak traced memory")
    args = parser.parse_args()
    config = SynthConfig(args.buildings, date.fromisoformat(args.start), date.fromisoformat(args.end), args.seed)
    out = args.out or Path(tempfile.mkdtemp(prefix="synth-bench-"))
    if args.discard:
        _discard(out)
    if args.tracemalloc:
        tracemalloc.start()
    t0 = time.perf_counter()
    summary = write_city(config, out, workers=args.workers)
    elapsed = time.perf_counter() - t0
    traced_peak = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
    own = resource.getrusage(resource.RUSAGE_SELF)
    worker = resource.getrusage(resource.RUSAGE_CHILDREN)  # the worker process, once it has been waited for
    own_cpu, worker_cpu = own.ru_utime + own.ru_stime, worker.ru_utime + worker.ru_stime
    total = sum(summary.rows.values())
    size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    for dataset_id, rows in summary.rows.items():
        print(f"{dataset_id}  {rows:>12,}")
    print(f"buildings {args.buildings:,}  {args.start}..{args.end}  seed {args.seed}")
    print(f"HPD violation rows {summary.rows['wvxf-dwi5']:,}  all rows {total:,}  on disk {size_mb:,.0f} MB")
    print(
        f"wall {elapsed:.1f} s  ({total / elapsed:,.0f} rows/s)  CPU (user + sys) {own_cpu + worker_cpu:.1f} s:"
        f" this process {own_cpu:.1f} s, worker {worker_cpu:.1f} s"
    )
    print(f"peak RSS: this process {own.ru_maxrss / 1024:,.0f} MB, worker {worker.ru_maxrss / 1024:,.0f} MB")
    if traced_peak is not None:
        print(f"tracemalloc peak (this process's Python and numpy allocations): {traced_peak / 2**20:,.0f} MB")
    if args.out is None:
        shutil.rmtree(out)


def _discard(out: Path) -> None:
    """Every output file a symlink to /dev/null: the generator runs in full, nothing reaches the disk."""
    (out / "ground_truth").mkdir(parents=True, exist_ok=True)
    names = [f"{ds}.json" for ds in DATASET_IDS]
    names += [f"ground_truth/{n}" for n in ("buildings.csv", "events.csv", "months.txt", "serious_rate_monthly.npy")]
    for name in names:
        (out / name).symlink_to("/dev/null")


if __name__ == "__main__":
    main()
