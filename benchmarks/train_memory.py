"""The driver's memory during `training.pipeline.run` on a loaded database (issue 21; not a pytest test).

    RAY_TMPDIR=/tmp/ray-x nice -n 19 .venv/bin/python benchmarks/train_memory.py URL [--samples 2] [--rounds 10]
        [--code DIR]

URL: a database loaded by `benchmarks/nyc_full.py --load-only --keep`. Samples this process's USS (psutil: the
pages only it holds; Ray's object store, shared memory, is not in it) every 0.1 s around the run, and prints the
peak over the USS before it (imports done, Ray started), the feature rows, and the Ray actors still alive after the
run by class. `--code DIR` imports `training` and `sentinel` from another checkout (e.g. `git archive` of an older
commit), so the same venv compares two versions.
"""

from __future__ import annotations

import argparse
import collections
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


def main() -> None:
    ray_runtime.connect(load_settings(ray_address=None), include_dashboard=False)
    me = psutil.Process()
    start = me.memory_full_info().uss
    peak = [start]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            peak[0] = max(peak[0], me.memory_full_info().uss)

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
                f"[USS {me.memory_full_info().uss / 1e6:,.0f} MB, peak {peak[0] / 1e6:,.0f}] {m}", flush=True
            ),
        )
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    end = me.memory_full_info().uss
    rows = report.rows["all"]
    grown = (peak[0] - start) / 1e6
    print(f"code {args.code}: {rows:,} feature rows ({report.rows['train']:,} train), {wall:.1f} s")
    before, top, after = start / 1e6, peak[0] / 1e6, end / 1e6
    print(f"driver USS MB: before {before:,.0f}, peak {top:,.0f} (+{grown:,.0f}), after {after:,.0f}")
    print(f"peak over the start per feature row: {grown * 1e6 / rows:,.0f} B")
    print(f"Ray actors alive after the run: {alive_actors()}")


if __name__ == "__main__":
    main()
