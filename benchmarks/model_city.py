"""Risk model quality on the product's own city (not a pytest test): what users and the demo get.

    .venv/bin/python benchmarks/model_city.py --buildings 1500 [--start 2019-01-01 --end 2025-11-30 --seed 2026]

`vsentinel synth` writes the city (Socrata formats + ground truth), the replay server serves it, the Ray ingestion
pipeline loads it into a fresh database on the local PostgreSQL (VS_BENCH_PG, default
postgresql://postgres@127.0.0.1:5432/postgres), then `training.pipeline.run` trains, calibrates and evaluates the four
scores out of time (default parameters of configs/tune.yaml, no sweep unless --samples). Prints, per score, the
model, both baselines and the generator's oracle with bootstrap intervals of the ROC AUC and of the difference to
the weighted open count (the promotion gate), as markdown for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from citysim.replay.server import serve_in_background
from cluster import ray_runtime
from cluster.ingest import run_ingestion
from sentinel.datasets import load_datasets
from sentinel.db import migrate
from sentinel.settings import load_settings
from tests.conftest import create_database, database_url_for, drop_database
from training import pipeline
from training.config import load_training_settings

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--buildings", type=int, default=1500)
    parser.add_argument("--start", default="2019-01-01")
    parser.add_argument("--end", default="2025-11-30")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--samples", type=int, default=0, help="Tune sweep trials (0: configs/tune.yaml defaults).")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--folds", type=int, default=None, help="Rolling folds (default: tune.yaml).")
    parser.add_argument("--city", type=Path, default=None, help="Reuse a city written before (skips synth).")
    parser.add_argument("--keep", action="store_true", help="Keep the database.")
    args = parser.parse_args()
    admin = os.environ.get("VS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = create_database(admin, "vs_bench_city")
    url = database_url_for(admin, name)
    work = Path(tempfile.mkdtemp(prefix="vs-bench-city-"))
    city = args.city or work / "city"
    figures: dict[str, str] = {}
    try:
        migrate.upgrade(url)
        if args.city is None:
            t = time.perf_counter()
            subprocess.run(
                [str(ROOT / ".venv/bin/vsentinel"), "synth", "--buildings", str(args.buildings), "--start",
                 args.start, "--end", args.end, "--seed", str(args.seed), "--out", str(city)],
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            figures["synth"] = f"{time.perf_counter() - t:.0f} s"
        ray_runtime.connect(load_settings(ray_address=None), include_dashboard=False)
        t = time.perf_counter()
        with serve_in_background(city) as server:
            result = run_ingestion(
                database_url=url,
                source_url=server.url,
                app_token=None,
                datasets=list(load_datasets()),
                incremental=False,
            )
        if result.failed:
            raise SystemExit(f"ingestion failed: {[(s.dataset, s.error) for s in result.failed]}")
        rows = sum(s.inserted for s in result.summaries)
        figures["ingest"] = f"{rows:,} rows in {time.perf_counter() - t:.0f} s"
        print("ingested", figures["ingest"], flush=True)
        overrides: dict[str, int] = {"num_boost_round": args.rounds} if args.rounds else {}
        if args.folds:
            overrides["eval_folds"] = args.folds
        settings = load_training_settings(**overrides)
        with psycopg.connect(url) as conn:
            conn.execute("ANALYZE")
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM properties), (SELECT count(*) FROM violations), "
                "(SELECT count(*) FROM complaints)"
            ).fetchone()
            figures["city"] = f"{counts[0]:,} properties, {counts[1]:,} violations, {counts[2]:,} complaints"
            t = time.perf_counter()
            report = pipeline.run(
                conn,
                settings,
                work / "models",
                work / "ray_results",
                tune=args.samples > 0,
                samples=args.samples or None,
                ground_truth=city / "ground_truth",
                log=lambda m: print(m, flush=True),
            )
            figures["train"] = f"{time.perf_counter() - t:.0f} s"
        print_section(args, settings, report, figures)
    finally:
        if not args.keep:
            drop_database(admin, name)


def print_section(args, settings, report, figures) -> None:
    from training.evaluate import markdown

    split = report.split
    print(f"\n### {args.buildings:,} buildings\n")
    print(
        f"`vsentinel synth --buildings {args.buildings} --start {args.start} --end {args.end} --seed {args.seed}` "
        f"({figures.get('synth', 'reused')}) -> replay server -> Ray ingestion ({figures['ingest']}): "
        f"{figures['city']}. Train cutoffs {split.train[0]} .. {split.train[-1]} ({report.rows['train']:,} rows), "
        f"calibration {split.calibration}, test {split.test} ({report.rows['test']:,} buildings); "
        f"{settings.num_boost_round} rounds, {'sweep of ' + str(args.samples) if args.samples else 'no sweep'}; "
        f"training {figures['train']}.\n"
    )
    print("| score | base rate | model AUC | weighted open count | Class C last year | oracle (serious-event truth) "
          "| model - weighted count | gate | scorer served |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for r in report.results:
        i, gap = r.intervals, r.over_baseline.get("model")
        oracle = str(i["oracle"]) if "oracle" in i else "-"
        print(
            f"| {r.kind} | {r.model.base_rate:.3f} | {i['model']} | {i['weighted_open_count']} | "
            f"{i['class_c_last_year']} | {oracle} | {gap} | {'passed' if r.beats_baseline else 'failed'} | "
            f"{report.scorers.get(r.kind, '-')} |"
        )
    print()
    print(markdown(report.results, report.folds))


if __name__ == "__main__":
    main()
