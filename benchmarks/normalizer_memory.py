"""A borough normalizer's memory over many pages: whether it levels off or grows with the rows it has seen.

    PYTHONPATH=. .venv/bin/python benchmarks/normalizer_memory.py [--pages 300]

Normalizes 10,000-row pages of the synthetic HPD file (benchmarks/ingest.py makes it) one after another in this
process, set up as a normalizer actor sets itself up (gc.freeze, keep_freed_memory), and prints resident memory
and its high-water mark every 20 pages. In the pipeline each normalizer takes a fifth of the pages: 20 at 1M rows,
60 at 3M; 300 pages here are what one normalizer sees of a 15M-row load.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest as bench

from sentinel.datasets import dataset_by_socrata_id
from sentinel.ingest.heap import keep_freed_memory
from sentinel.ingest.pages import normalize_body

PAGE_ROWS = 10_000


def pages(path: Path) -> Iterator[bytes]:
    """The file's rows as JSON pages of PAGE_ROWS, over and over (the rows' contents are all that matters here)."""
    while True:
        with path.open("rb") as f:
            rows = (line.rstrip(b",\n") for line in f if line[:1] == b"{")
            while batch := list(itertools.islice(rows, PAGE_ROWS)):
                yield b"[" + b",".join(batch) + b"]"


def memory_kb() -> tuple[int, int]:
    """(resident, high-water resident) of this process, in kB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()
    config = dataset_by_socrata_id(bench.HPD)
    source = pages(bench.hpd_file(1_000_000))
    gc.freeze()
    keep_freed_memory()
    print("pages  rows       RSS MB  peak RSS MB")
    for n, body in enumerate(itertools.islice(source, args.pages), start=1):
        normalize_body(config, body)
        del body
        if n % 20 == 0:
            rss, hwm = memory_kb()
            print(f"{n:5}  {n * PAGE_ROWS:>9,}  {rss / 1024:6.0f}  {hwm / 1024:11.0f}", flush=True)


if __name__ == "__main__":
    main()
