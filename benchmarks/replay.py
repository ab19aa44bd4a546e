"""Replay server throughput: one client paging a 1M-row HPD violations dataset (not a pytest test).

    .venv/bin/python benchmarks/replay.py [--rows 1000000] [--data DIR] [--page 50000] [--mode keyset|offset]

Without --data it writes DIR/wvxf-dwi5.json (one row per line, the synthetic city's layout) by cycling the 1000 real
rows in ../shared/realdata with fresh violation ids; with --data it serves an existing directory (e.g. one written
by citysim.synth). The store is cached beside the data (DIR/.replay-cache.sqlite), so build and serve are timed
separately.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import orjson
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from citysim.replay.formats import read_dataset_file
from citysim.replay.server import ReplayServer
from citysim.replay.store import open_store

REAL_SAMPLE = (
    Path(__file__).resolve().parents[1] / "../shared/realdata/hpd_violations/tablynn/housing_code_violations.json"
)
DATASET = "wvxf-dwi5"


def write_violations(path: Path, rows: int) -> None:
    templates = list(read_dataset_file(REAL_SAMPLE, DATASET))
    with path.open("wb") as fh:
        fh.write(b"[\n")
        for i in range(rows):
            row = dict(templates[i % len(templates)])
            row["violationid"] = str(20_000_000 + i)
            row["novid"] = str(9_000_000 + i)
            fh.write(orjson.dumps(row))
            fh.write(b",\n" if i < rows - 1 else b"\n")
        fh.write(b"]\n")


def page_out(base: str, page: int, mode: str, parse: str) -> tuple[int, float]:
    session = requests.Session()
    url = f"{base}/resource/{DATASET}.json"
    total, offset, last_id = 0, 0, None
    start = time.perf_counter()
    while True:
        params = {"$select": ":*,*", "$order": ":id", "$limit": str(page)}
        if mode == "keyset" and last_id is not None:
            params["$where"] = f":id > '{last_id}'"
        elif mode == "offset":
            params["$offset"] = str(offset)
        response = session.get(url, params=params, timeout=600)
        response.raise_for_status()
        # The client's parse is part of the cost: stdlib json is what sodapy uses, orjson what an ingester can use.
        if parse == "none":
            # Server and transfer only: count rows by the row separator, take the last id from the tail.
            body = response.content
            n = 0 if body.startswith(b"[]") else body.count(b"\n,{") + 1
            tail = body[body.rfind(b'{":id":"') :]
            last = tail[8 : tail.index(b'"', 8)].decode() if n else None
        else:
            rows = orjson.loads(response.content) if parse == "orjson" else response.json()
            n, last = len(rows), (rows[-1][":id"] if rows else None)
        total += n
        offset += n
        if n < page:
            break
        last_id = last
    return total, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, help="directory holding wvxf-dwi5.json (default: generate one)")
    parser.add_argument("--page", type=int, default=50_000)
    parser.add_argument("--mode", choices=("keyset", "offset", "both"), default="both")
    parser.add_argument("--parse", choices=("orjson", "json", "none", "all"), default="all")
    args = parser.parse_args()

    data = args.data or Path(tempfile.gettempdir()) / f"replay-bench-{args.rows}"
    data.mkdir(parents=True, exist_ok=True)
    target = data / f"{DATASET}.json"
    if not target.exists():
        t = time.perf_counter()
        write_violations(target, args.rows)
        print(f"wrote {args.rows:,} rows ({target.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - t:.1f}s")

    t = time.perf_counter()
    store = open_store(data, cache=True)
    print(f"store ready in {time.perf_counter() - t:.1f}s ({store.db_path})")
    server = ReplayServer(store).start()
    try:
        modes = ("keyset", "offset") if args.mode == "both" else (args.mode,)
        parsers = ("none", "orjson", "json") if args.parse == "all" else (args.parse,)
        for mode in modes:
            for parse in parsers:
                total, seconds = page_out(server.url, args.page, mode, parse)
                print(
                    f"{mode} paging, client parses with {parse}: {total:,} rows in {seconds:.1f}s"
                    f" = {total / seconds:,.0f} rows/s (page {args.page:,})"
                )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
