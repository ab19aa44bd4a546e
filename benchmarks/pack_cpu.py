"""CPU per row of keeping a source record: packed in its row as before migration 0033 (sentinel/raw_records.py
`pack`) against placed in its page (sentinel/source_pages.py `place_records`), on the real samples, in this process.

    PYTHONPATH=. nice -n 19 .venv/bin/python benchmarks/pack_cpu.py [--repeat 15]

Every real sample under ../shared/realdata (run from the checkout; citysim's REALDATA_SAMPLES) of a dataset whose
rows keep their record is normalized once; then, per family (table, source), the process CPU time (not wall time: a
busy machine disturbs it far less) of packing each row's record and of placing each sample's rows in one page, best
of `--repeat` passes, with the bytes a row of each and of the record's JSON. A sample file is at most 1,000 rows,
a tenth of a fetched page: a page compresses better the more records it holds, so the page figures understate it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from citysim.replay.formats import read_dataset_file, realdata_samples
from sentinel import raw_records, source_pages
from sentinel.datasets import dataset_by_socrata_id
from sentinel.normalize import normalize_page
from sentinel.records import ComplaintRow, ViolationRow, column_attribute

Kept = ViolationRow | ComplaintRow


def samples_by_family(realdata: Path) -> dict[tuple[str, str], list[tuple[str, list[Kept]]]]:
    """Per family, each sample's rows with its dataset's name."""
    families: dict[tuple[str, str], list[tuple[str, list[Kept]]]] = {}
    for path, socrata_id in realdata_samples(realdata):
        dataset = dataset_by_socrata_id(socrata_id)
        batch = normalize_page(dataset, list(read_dataset_file(path, socrata_id)))
        for table in source_pages.TABLES:
            rows = batch.rows.get(table, [])
            if rows:
                families.setdefault((table, rows[0].source), []).append((dataset.name, rows))  # type: ignore[arg-type]
    return families


def best_us(run: Callable[[], object], count: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best / count * 1e6


def packed(row: Kept) -> bytes:
    """The row's record as `pack` packed it before migration 0033: with the row's values of the columns its family's
    FIELDS_IN_COLUMNS names."""
    held = raw_records.FIELDS_IN_COLUMNS.get((row.table, row.source), ())
    return raw_records.pack(row.table, row.source, row.raw, [getattr(row, column_attribute(c)) for _, c, _ in held])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--realdata", type=Path, default=Path("../shared/realdata"), help="from the checkout")
    args = parser.parse_args()
    totals = {"rows": 0, "pack_us": 0.0, "page_us": 0.0}
    for (table, source), samples in sorted(samples_by_family(args.realdata).items()):
        rows = [row for _, sample in samples for row in sample]
        pack_us = best_us(lambda rows=rows: [packed(row) for row in rows], len(rows), args.repeat)
        page_us = best_us(
            lambda samples=samples: [source_pages.place_records(name, sample) for name, sample in samples],
            len(rows),
            args.repeat,
        )
        page_bytes = sum(len(source_pages.place_records(name, sample).body) for name, sample in samples)
        totals["rows"] += len(rows)
        totals["pack_us"] += pack_us * len(rows)
        totals["page_us"] += page_us * len(rows)
        print(orjson.dumps({
            "family": f"{table} {source}", "rows": len(rows), "samples": len(samples),
            "pack_us_per_row": round(pack_us, 2), "page_us_per_row": round(page_us, 2),
            "packed_bytes_per_row": round(sum(len(packed(r)) for r in rows) / len(rows), 1),
            "page_bytes_per_row": round(page_bytes / len(rows), 1),
            "json_bytes_per_row": round(sum(len(orjson.dumps(r.raw)) for r in rows) / len(rows), 1),
        }).decode())  # fmt: skip
    rows = totals["rows"]
    print(orjson.dumps({"rows": rows, "pack_us_per_row_all": round(totals["pack_us"] / rows, 2),
                        "page_us_per_row_all": round(totals["page_us"] / rows, 2)}).decode())  # fmt: skip


if __name__ == "__main__":
    main()
