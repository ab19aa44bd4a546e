"""The driver's memory during `training.pipeline.run` on a loaded database (issue 21; not a pytest test).

    RAY_TMPDIR=/tmp/ray-x nice -n 19 .venv/bin/python benchmarks/train_memory.py URL [--samples 2] [--rounds 10]
        [--code DIR] [--chunk LOTS]

URL: a database loaded by `benchmarks/nyc_full.py --load-only --keep`. Samples this process's USS (psutil: the
pages only it maps) every 0.1 s around the run, and prints the peak over the USS before it (imports done, Ray
started), the feature rows, and the Ray actors still alive after the run by class. The USS counts the object
store's pages this process wrote with `ray.put` and nobody else has mapped yet (Ray's plasma file in /dev/shm,
shared memory that the store owns and spills), so it also prints the USS without them: the driver's own memory.
`--code DIR` imports `training` and `sentinel` from DIR in
this process only: Ray's workers import them from the working directory. To measure another version, run a whole
checkout of it (`git archive COMMIT | tar -x -C DIR`) from DIR with this venv, as benchmarks/RESULTS.md did.
`--chunk LOTS` reads the features that many lots at a time instead of `training.dataset.CHUNK_ROWS`: the driver holds
one chunk at a time, so a slope between two cities of which one has fewer lots than a chunk measures the chunk too;
with a chunk below both it measures what grows with the lots.
"""

from __future__ import annotations

import argparse
import collections
import functools
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

parser = argparse.ArgumentParser()
parser.add_argument("url")
parser.add_argument("--samples", type=int, default=2, help="Tune sweep trials (0: no sweep).")
parser.add_argument("--rounds", type=int, default=10)
parser.add_argument("--code", type=Path, default=Path(__file__).resolve().parents[1])
parser.add_argument("--chunk", type=int, default=0, help="Lots a feature chunk (0: the pipeline's default).")
args = parser.parse_args()
sys.path.insert(0, str(args.code.resolve()))

import psycopg  # noqa: E402
import ray  # noqa: E402
import ray._private.state  # noqa: E402 - the GCS's actor table: the State API needs the dashboard, not started here

from cluster import ray_runtime  # noqa: E402
from sentinel.settings import load_settings  # noqa: E402
from training import pipeline  # noqa: E402
from training.config import load_training_settings  # noqa: E402


def alive_actors() -> dict[str, int]:
    table = ray._private.state.actors()
    return dict(collections.Counter(a["ActorClassName"] for a in table.values() if a["State"] == "ALIVE"))


def private_kb() -> tuple[int, int]:
    """(the pages only this process maps, those of them in Ray's object store), in kB, from /proc/self/smaps."""
    total = store = 0
    in_store = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            key, _, rest = line.partition(" ")
            if not key.endswith(":"):  # a mapping's header: address range, perms, offset, device, inode, path
                in_store = "/plasma" in line
            elif key in ("Private_Clean:", "Private_Dirty:"):
                kb = int(rest.split()[0])
                total += kb
                store += kb if in_store else 0
    return total, store


def main() -> None:
    if args.chunk:
        pipeline.dataset.build_compact = functools.partial(pipeline.dataset.build_compact, chunk=args.chunk)
    ray_runtime.connect(load_settings(ray_address=None), include_dashboard=False)
    me = psutil.Process()
    start = me.memory_full_info().uss
    peak = [start]
    start_own = 1024 * (private_kb()[0] - private_kb()[1])
    peak_own = [start_own]
    stop = threading.Event()

    def own() -> int:
        total, store = private_kb()
        return 1024 * (total - store)

    def sample() -> None:
        while not stop.wait(0.1):
            peak[0] = max(peak[0], me.memory_full_info().uss)
            peak_own[0] = max(peak_own[0], own())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    work = Path(tempfile.mkdtemp(prefix="vs-train-memory-"))
    t0 = time.perf_counter()
    with psycopg.connect(args.url) as conn:
        report = pipeline.run(
            conn,
            load_training_settings(num_boost_round=args.rounds),
            work / "models",
            work / "ray_results",
            tune=args.samples > 0,
            samples=args.samples or None,
            log=lambda m: print(
                f"[USS {me.memory_full_info().uss / 1e6:,.0f} MB, peak {peak[0] / 1e6:,.0f}; without the store's "
                f"{own() / 1e6:,.0f}, peak {peak_own[0] / 1e6:,.0f}] {m}",
                flush=True,
            ),
        )
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    end = me.memory_full_info().uss
    rows = report.rows["all"]
    grown = (peak[0] - start) / 1e6
    chunk = f", chunks of {args.chunk:,} lots" if args.chunk else ""
    print(f"code {args.code}{chunk}: {rows:,} feature rows ({report.rows['train']:,} train), {wall:.1f} s")
    before, top, after = start / 1e6, peak[0] / 1e6, end / 1e6
    print(f"driver USS MB: before {before:,.0f}, peak {top:,.0f} (+{grown:,.0f}), after {after:,.0f}")
    print(f"peak over the start per feature row: {grown * 1e6 / rows:,.0f} B")
    own_grown = (peak_own[0] - start_own) / 1e6
    own_end = own() / 1e6
    print(
        f"without the object store's pages, MB: before {start_own / 1e6:,.0f}, peak {peak_own[0] / 1e6:,.0f} "
        f"(+{own_grown:,.0f}), after {own_end:,.0f}; per feature row {own_grown * 1e6 / rows:,.0f} B"
    )
    print(f"Ray actors alive after the run: {alive_actors()}")


if __name__ == "__main__":
    main()
