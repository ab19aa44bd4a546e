"""How the complaint families' preset dictionaries (sentinel/record_dictionaries.py) were chosen, and what they save.

    PYTHONPATH=. .venv/bin/python benchmarks/pack_dictionaries.py [--budget 2048] [--print]

The way HPD violations' dictionary was made (sentinel/raw_records.py): the common text of the family's real
values. Here, per complaint family: the real samples under ../shared/realdata (run from the checkout) normalized,
each record's payload as `pack` deflates it (the values no column holds), and every string value that recurs
across records (but dates, ids and coordinates) scored by the bytes it would save (occurrences x length). The best
fill `--budget` bytes, the family's field names in the API's order first (a record out of that order lists its
keys, which then deflate to a reference), the most valuable value last (deflate reaches the end of a dictionary
with the shortest distances).
HPD complaints have only 10 current sample rows, so the retired 2017 complaint and problem exports of the same
publisher (the same categories, statuses and status descriptions) add their values. It prints the packed bytes
per row with no dictionary and with the chosen one, and with --print the literals to freeze: once rows are
written with a dictionary it never changes (a new one takes a new id).
"""

from __future__ import annotations

import argparse
import csv
import re
import zlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from citysim.replay.formats import read_dataset_file, realdata_samples
from sentinel import raw_records
from sentinel.datasets import dataset_by_socrata_id
from sentinel.normalize import normalize_page
from sentinel.records import ComplaintRow, _held_by_columns

FAMILIES = (("complaints", "HPD"), ("complaints", "DOB"), ("complaints", "311"))
LEGACY_HPD = ("hpd_complaints/nycdb_legacy_2017/hpd_complaints.csv",
              "hpd_complaints/nycdb_legacy_2017/hpd_complaint_problems.csv")  # fmt: skip
# Dates, ids and coordinates recur in a small sample by chance and would only fit that sample; the categories,
# statuses, descriptions, street names, codes and zips (NYC has ~200) are what a dataset repeats.
UNIQUE = re.compile(r".*\d\d/\d\d/\d{4}|.*\d{4}-\d\d-\d\d|-?[\d.]{6,}$")
# Text every family's values share whatever the sample: floating timestamps' midnight and Socrata's row ids.
COMMON = (b'"T00:00:00.000"', b'"row-')


def rows_of(realdata: Path) -> dict[tuple[str, str], list[ComplaintRow]]:
    found: dict[tuple[str, str], list[ComplaintRow]] = {}
    for path, socrata_id in realdata_samples(realdata):
        batch = normalize_page(dataset_by_socrata_id(socrata_id), list(read_dataset_file(path, socrata_id)))
        for row in batch.rows.get("complaints", ()):
            found.setdefault(("complaints", row.source), []).append(row)  # type: ignore[arg-type]
    return found


def strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | dict):
        for item in value.values() if isinstance(value, dict) else value:
            yield from strings(item)


def payload_values(row: ComplaintRow) -> list[Any]:
    return orjson.loads(raw_records.payload((row.table, row.source), row.raw, _held_by_columns(row)))[2]


def legacy_values(realdata: Path) -> list[list[str]]:
    out = []
    for rel in LEGACY_HPD:
        with (realdata / rel).open(newline="", encoding="utf-8") as fh:
            out += [list(record.values()) for record in csv.DictReader(fh)]
    return out


def choose(records: list[list[Any]], fields: tuple[str, ...], budget: int) -> bytes:
    seen: Counter[bytes] = Counter()
    for values in records:
        for text in {orjson.dumps(s) for v in values for s in strings(v) if len(s) >= 2 and not UNIQUE.match(s)}:
            seen[text] += 1
    scored = sorted(((n * len(text), text) for text, n in seen.items() if n >= 2), reverse=True)
    names = orjson.dumps(list(fields))[1:-1] + b","
    chosen, size = [], len(names) + sum(len(c) + 1 for c in COMMON)
    for _, text in scored:
        if size + len(text) + 1 > budget:
            continue
        chosen.append(text)
        size += len(text) + 1
    # Least valuable first: the most valuable sit nearest the record (shorter distances).
    return names + b",".join([*COMMON, *reversed(chosen)])


def packed_bytes(rows: list[ComplaintRow], dictionary: bytes) -> float:
    total = 0
    for row in rows:
        data = raw_records.payload((row.table, row.source), row.raw, _held_by_columns(row))
        extra = (dictionary,) if dictionary else ()
        # Format 1's deflate: the dictionaries were chosen with it (format 2's zstd reads the same bytes).
        deflate = zlib.compressobj(6, zlib.DEFLATED, raw_records.DEFLATE_WBITS, 4, 0, *extra)
        total += 2 + len(deflate.compress(data) + deflate.flush())
    return total / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=int, default=2048, help="bytes of dictionary per family")
    parser.add_argument("--realdata", type=Path, default=Path("../shared/realdata"))
    parser.add_argument("--print", action="store_true", help="print the dictionaries as Python literals")
    args = parser.parse_args()
    found = rows_of(args.realdata)
    for family in FAMILIES:
        rows = found[family]
        records = [payload_values(row) for row in rows]
        if family == ("complaints", "HPD"):
            records += legacy_values(args.realdata)
        dictionary = choose(records, raw_records.FIELD_ORDER[family][3:], args.budget)
        print(orjson.dumps({
            "family": " ".join(family), "rows": len(rows), "dictionary_bytes": len(dictionary),
            "json_bytes_per_row": round(sum(len(orjson.dumps(r.raw)) for r in rows) / len(rows), 1),
            "packed_no_dictionary": round(packed_bytes(rows, b""), 1),
            "packed_with_dictionary": round(packed_bytes(rows, dictionary), 1),
        }).decode())  # fmt: skip
        if args.print:
            print(f"{family}: (")
            for i in range(0, len(dictionary), 100):
                print(f"    {dictionary[i : i + 100]!r}")
            print(")")


if __name__ == "__main__":
    main()
