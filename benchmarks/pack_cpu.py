"""CPU per row of packing a source record (sentinel/raw_records.py `pack`), on the real samples, in this process.

    PYTHONPATH=. nice -n 19 .venv/bin/python benchmarks/pack_cpu.py [--repeat 15] [--variants]

Every real sample under ../shared/realdata (run from the checkout; citysim's REALDATA_SAMPLES) of a dataset whose
rows are packed is normalized once; then, per family (table, source), the process CPU time (not wall time: a busy
machine disturbs it far less) of `row.raw_packed` over its rows, best of `--repeat` passes, with the packed and
the JSON bytes a row. `--variants` also times the deflate step alone over the same payloads (the JSON `pack`
deflates, read back from its output) with other zlib settings and a primed stream copied per record, each checked
to inflate back to the payload, so a setting is chosen on measured cost and size rather than guessed.
"""

from __future__ import annotations

import argparse
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import orjson

from citysim.replay.formats import read_dataset_file, realdata_samples
from sentinel import raw_records
from sentinel.datasets import dataset_by_socrata_id
from sentinel.normalize import normalize_page
from sentinel.records import ComplaintRow, ViolationRow

Packed = ViolationRow | ComplaintRow


def rows_by_family(realdata: Path) -> dict[tuple[str, str], list[Packed]]:
    families: dict[tuple[str, str], list[Packed]] = {}
    for path, socrata_id in realdata_samples(realdata):
        batch = normalize_page(dataset_by_socrata_id(socrata_id), list(read_dataset_file(path, socrata_id)))
        for table in ("violations", "complaints"):
            for row in batch.rows.get(table, ()):
                if "raw_packed" in row.columns:
                    families.setdefault((table, row.source), []).append(row)  # type: ignore[arg-type]
    return families


def best_us(run: Callable[[], object], count: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best / count * 1e6


def payloads(rows: list[Packed]) -> tuple[int, list[bytes]]:
    """The dictionary id and the JSON that `pack` deflated for each row."""
    packed = [row.raw_packed for row in rows]
    dictionary_id = packed[0][1]
    dictionary = raw_records.DICTIONARIES[dictionary_id]
    out = []
    for p in packed:
        inflate = zlib.decompressobj(raw_records._WBITS, dictionary) if dictionary else zlib.decompressobj(-15)
        out.append(inflate.decompress(p[2:]) + inflate.flush())
    return dictionary_id, out


def variants(rows: list[Packed], repeat: int) -> list[dict[str, object]]:
    dictionary_id, data = payloads(rows)
    dictionary = raw_records.DICTIONARIES[dictionary_id]
    extra = (dictionary,) if dictionary else ()
    results = []
    for level, mem_level, primed in [(6, 8, False), (6, 4, False), (6, 8, True), (6, 4, True), (6, 1, False),
                                     (1, 4, False), (4, 4, False), (9, 4, False)]:  # fmt: skip

        def fresh(level: int = level, mem_level: int = mem_level) -> zlib._Compress:
            return zlib.compressobj(level, zlib.DEFLATED, raw_records._WBITS, mem_level, 0, *extra)

        stream = fresh().copy if primed else fresh

        def deflate_all(stream: Callable[[], zlib._Compress] = stream) -> list[bytes]:
            return [(d := stream()).compress(p) + d.flush() for p in data]

        out = deflate_all()
        back = []
        for o in out:
            inflate = zlib.decompressobj(raw_records._WBITS, *extra)
            back.append(inflate.decompress(o) + inflate.flush())
        results.append({
            "level": level, "mem_level": mem_level, "primed_copy": primed,
            "deflate_us_per_row": round(best_us(deflate_all, len(data), repeat), 2),
            "bytes_per_row": round(sum(map(len, out)) / len(data), 1), "inflates_back": back == data,
        })  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--variants", action="store_true")
    parser.add_argument("--realdata", type=Path, default=Path("../shared/realdata"), help="from the checkout")
    args = parser.parse_args()
    total_rows, total_us = 0, 0.0
    for (table, source), rows in sorted(rows_by_family(args.realdata).items()):
        us = best_us(lambda rows=rows: [row.raw_packed for row in rows], len(rows), args.repeat)
        total_rows += len(rows)
        total_us += us * len(rows)
        print(orjson.dumps({
            "family": f"{table} {source}", "rows": len(rows), "pack_us_per_row": round(us, 2),
            "packed_bytes_per_row": round(sum(len(r.raw_packed) for r in rows) / len(rows), 1),
            "json_bytes_per_row": round(sum(len(orjson.dumps(r.raw)) for r in rows) / len(rows), 1),
        }).decode())  # fmt: skip
        if args.variants and len(rows) >= 100:
            for result in variants(rows, args.repeat):
                print("   ", orjson.dumps(result).decode())
    print(orjson.dumps({"rows": total_rows, "pack_us_per_row_all": round(total_us / total_rows, 2)}).decode())


if __name__ == "__main__":
    main()
