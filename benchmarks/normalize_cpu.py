"""CPU per row of a page's normalize + encode (sentinel/ingest/pages.py `normalize_body`), in this process only.

    PYTHONPATH=. .venv/bin/python benchmarks/normalize_cpu.py [--rows 200000] [--repeat 5] [--dataset hpd_violations]
        [--stage page|encode] [--layout lines|whole]

Process CPU time (not wall time) of the Python half of the pipeline over 10,000-row pages of the benchmark's HPD
file (benchmarks/ingest.py builds it), best and median of `--repeat` passes: a figure that a busy machine
disturbs far less than end-to-end rows/s, for A/B of changes to normalization and encoding. The pages are written
as Socrata writes them, a record a line (`--layout whole`: one line each, which the pipeline parses whole).
`--stage encode` times only the COPY text encoding (sentinel/ingest/copy_batch.py `encode_rows`) of the pages'
normalized rows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest as bench

from sentinel.datasets import load_datasets
from sentinel.ingest.copy_batch import encode_rows
from sentinel.ingest.pages import normalize_body
from sentinel.normalize import normalize_page
from tests.ingest.test_pages import socrata_page

PAGE = 10_000


def pages(rows: int, layout: str = "lines") -> list[bytes]:
    path = bench.hpd_file(rows)
    records = [orjson.loads(line.rstrip(b",\n")) for line in path.open("rb") if line[:1] == b"{"]
    if layout == "whole":
        return [orjson.dumps(records[i : i + PAGE]) for i in range(0, len(records), PAGE)]
    return [socrata_page(records[i : i + PAGE]) for i in range(0, len(records), PAGE)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dataset", default="hpd_violations")
    parser.add_argument("--stage", choices=("page", "encode"), default="page")
    parser.add_argument("--layout", choices=("lines", "whole"), default="lines")
    args = parser.parse_args()
    config = load_datasets()[args.dataset]
    bodies = pages(args.rows, args.layout)
    rows = sum(len(orjson.loads(b)) for b in bodies)
    if args.stage == "encode":
        tables = [t for body in bodies for t in normalize_page(config, orjson.loads(body)).rows.values() if t]
        rows = sum(len(t) for t in tables)

        def one_pass() -> None:
            for table in tables:
                encode_rows(table)
    else:

        def one_pass() -> None:
            for body in bodies:
                normalize_body(config, body)

    per_row = []
    for _ in range(args.repeat):
        started = time.process_time()
        one_pass()
        per_row.append((time.process_time() - started) / rows * 1e6)
    print(orjson.dumps({"rows": rows, "us_per_row_best": round(min(per_row), 2),
                        "us_per_row_median": round(statistics.median(per_row), 2)}).decode())  # fmt: skip


if __name__ == "__main__":
    main()
