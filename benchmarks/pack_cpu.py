"""CPU per row of packing a source record (sentinel/raw_records.py `pack`), on the real samples, in this process.

    PYTHONPATH=. nice -n 19 .venv/bin/python benchmarks/pack_cpu.py [--repeat 15] [--variants]

Every real sample under ../shared/realdata (run from the checkout; citysim's REALDATA_SAMPLES) of a dataset whose
rows are packed is normalized once; then, per family (table, source), the process CPU time (not wall time: a busy
machine disturbs it far less) of `row.raw_packed` over its rows, best of `--repeat` passes, with the packed and
the JSON bytes a row. `--variants` also times the compression step alone over the same payloads (the JSON `pack`
compresses, read back from its output): format 1's deflate against zstd at a few levels, each checked to give the
payload back, so a codec and level are chosen on measured cost and size rather than guessed.
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
    """The dictionary id and the JSON that `pack` compressed for each row."""
    packed = [row.raw_packed for row in rows]
    return packed[0][1], [raw_records.packed_payload(p) for p in packed]


def variants(rows: list[Packed], repeat: int) -> list[dict[str, object]]:
    """The compression step alone over the rows' payloads: format 1's deflate (level 6, memLevel 4) against zstd
    at a few levels (format 2's settings otherwise), each checked to give the payload back."""
    dictionary_id, data = payloads(rows)
    dictionary = raw_records.DICTIONARIES[dictionary_id]
    extra = (dictionary,) if dictionary else ()

    def deflate(payload: bytes) -> bytes:
        d = zlib.compressobj(6, zlib.DEFLATED, raw_records.DEFLATE_WBITS, 4, 0, *extra)
        return d.compress(payload) + d.flush()

    def inflate(packed: bytes) -> bytes:
        i = zlib.decompressobj(raw_records.DEFLATE_WBITS, *extra)
        return i.decompress(packed) + i.flush()

    codecs: list[tuple[str, Callable[[bytes], bytes], Callable[[bytes], bytes]]] = [("deflate 6", deflate, inflate)]
    for level in (1, 3, 6):
        compressor, decompressor = raw_records.zstd_contexts(dictionary_id, level)
        codecs.append((f"zstd {level}", compressor.compress, decompressor.decompress))
    results = []
    for name, encode, decode in codecs:
        out = [encode(p) for p in data]
        results.append({
            "codec": name,
            "us_per_row": round(best_us(lambda encode=encode: [encode(p) for p in data], len(data), repeat), 2),
            "bytes_per_row": round(sum(map(len, out)) / len(data), 1),
            "gives_back": [decode(o) for o in out] == data,
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
