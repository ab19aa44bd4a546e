"""A day's changes file read whole against read as it is applied: wall, CPU and the process's peak memory (issue 21;
not a pytest test).

    PYTHONPATH=. .venv/bin/python benchmarks/change_file_parse.py DAY.json[.zst]

Each way runs in a child process of its own, so each peak is its own: `whole` is `read_json_document` (what the
benchmarks published a day with before `apply_changes_file`), `streamed` is `read_change_file` in the batches
`apply_changes_file` applies. Neither writes to a store: this is the reading, which the store's writes follow.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from citysim.replay.change_stream import ChangeBatch, read_change_file
from citysim.replay.changes import FILE_BATCH_ROWS
from citysim.replay.formats import read_json_document


def read(way: str, path: Path) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    if way == "whole":
        document = read_json_document(path)
        items = sum(len(v) for ops in document["datasets"].values() for v in ops.values())
    else:
        items = sum(len(b.items) for b in read_change_file(path, FILE_BATCH_ROWS) if isinstance(b, ChangeBatch))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{way}: {items:,} rows and keys, wall {time.perf_counter() - t0:.1f} s, CPU {time.process_time() - c0:.1f} s, "
        f"peak RSS {peak_mb:,.0f} MB",
        flush=True,
    )


def main() -> None:
    if len(sys.argv) == 3:
        read(sys.argv[1], Path(sys.argv[2]))
        return
    path = Path(sys.argv[1])
    print(f"{path.name}: {path.stat().st_size / 1e6:,.0f} MB on disk")
    for way in ("streamed", "whole"):
        subprocess.run([sys.executable, __file__, way, str(path)], check=True)


if __name__ == "__main__":
    main()
