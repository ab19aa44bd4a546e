"""How much of next year's risk a building's history already tells, on the product's synthetic city (not a test).

    .venv/bin/python benchmarks/city_signal.py [--buildings 3000] [--cutoff 2024-10-01]

Writes a city with `citysim.synth` (2019-01-01 .. 2025-11-30, seed 2026), serves it with the replay server, ingests
it (serial pipeline) into a fresh database on VS_BENCH_PG, and prints the ROC AUC for next year's serious events of
the generator's oracle, the weighted open count and single history features: the room a model has over the count
is at most oracle - count. No training.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import uuid
from datetime import date
from pathlib import Path

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from citysim.replay.server import serve_in_background
from citysim.synth.city import write_city
from citysim.synth.config import SynthConfig
from sentinel.datasets import load_datasets
from sentinel.db import migrate
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from sentinel.risk import dataset, metrics
from sentinel.risk.baseline import weighted_open_count
from sentinel.risk.oracle import true_probability

SINGLE = ("open_all", "v_all_365", "v_all_1095", "v_hpd_c_365", "c_all_365", "units_res")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--buildings", type=int, default=3000)
    parser.add_argument("--cutoff", default="2024-10-01")
    args = parser.parse_args()
    admin = os.environ.get("VS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"vs_bench_signal_{uuid.uuid4().hex[:6]}"
    out = Path(tempfile.mkdtemp(prefix="vs-signal-"))
    write_city(SynthConfig(args.buildings, date(2019, 1, 1), date(2025, 11, 30), seed=2026), out)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate.upgrade(url)
        with serve_in_background(out) as server:
            options = RunOptions(list(load_datasets()), incremental=False, page_size=20_000)
            run_serial(url, SocrataSource(server.url), options)
        cutoff = date.fromisoformat(args.cutoff)
        with psycopg.connect(url) as conn:
            frame = dataset.features_at(conn, cutoff).merge(dataset.labels_at(conn, cutoff), on="bbl", how="left")
        y = frame["safety"].astype("boolean").fillna(False).to_numpy(dtype=float)
        oracle = true_probability(out / "ground_truth", frame["bbl"].tolist(), cutoff)
        known = ~np.isnan(oracle)
        result = {
            "buildings": len(frame),
            "serious_base_rate": y.mean(),
            "oracle": metrics.roc_auc(y[known], oracle[known]),
            "weighted_open_count": metrics.roc_auc(y, weighted_open_count(frame)),
            **{name: metrics.roc_auc(y, frame[name].to_numpy(dtype=float)) for name in SINGLE},
        }
        print(json.dumps({k: round(float(v), 3) for k, v in result.items()}))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
