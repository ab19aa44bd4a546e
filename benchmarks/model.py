"""Risk model benchmark (not a pytest test): dataset build, Tune sweep, batch scoring, quality on a synthetic city.

    .venv/bin/python benchmarks/model.py [--buildings 100000] [--samples 16] [--engines pandas,modin]

Creates a fresh database on the local PostgreSQL (VS_BENCH_PG, default postgresql://postgres@127.0.0.1:5432/postgres),
writes a canonical synthetic city (training.canonical_city, 2019-01-01 .. 2025-11-25, with ground truth), then runs
`training.pipeline.run` with a sweep (as `vsentinel train --tune --samples N` does), a single-process xgboost fit of
the same training matrix for comparison, and `sentinel.risk.scoring.score_all` on every building. Prints a markdown
section for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cluster import ray_runtime
from sentinel.db import migrate
from sentinel.risk import scoring
from sentinel.settings import load_settings
from tests.conftest import create_database, database_url_for, drop_database
from training import canonical_city, dataset, pipeline
from training.config import load_training_settings

START, END = date(2019, 1, 1), date(2025, 11, 25)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--buildings", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--engines", default="pandas,modin")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--train-cutoffs", type=int, default=None)
    parser.add_argument("--concurrent", type=int, default=None, help="Trials at once (default configs/tune.yaml).")
    parser.add_argument("--keep", action="store_true", help="Keep the database.")
    args = parser.parse_args()
    admin = os.environ.get("VS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = create_database(admin, "vs_bench_model")
    url = database_url_for(admin, name)
    figures: dict[str, str] = {}
    try:
        migrate.upgrade(url)
        work = Path(tempfile.mkdtemp(prefix="vs-bench-model-"))
        ray_runtime.connect(load_settings(ray_address=None), include_dashboard=False)
        overrides = {}
        if args.rounds:
            overrides["num_boost_round"] = args.rounds
        if args.concurrent:
            overrides["max_concurrent_trials"] = args.concurrent
        if args.train_cutoffs:
            overrides["max_train_cutoffs"] = args.train_cutoffs
        settings = load_training_settings(**overrides)
        with psycopg.connect(url) as conn:
            t = time.perf_counter()
            info = canonical_city.generate(conn, work, args.buildings, START, END, seed=2026)
            conn.execute("ANALYZE")
            figures["city"] = (
                f"{info.buildings:,} buildings, {info.violations:,} violations, {info.complaints:,} complaints "
                f"written in {time.perf_counter() - t:.0f} s"
            )
            print(figures["city"], flush=True)
            for engine in args.engines.split(","):
                t = time.perf_counter()
                frame = dataset.build(conn, [date(2024, 1, 1), date(2024, 4, 1)], engine=engine)
                rows = len(frame)
                figures[f"engine_{engine}"] = f"{time.perf_counter() - t:.1f} s for 2 cutoffs ({rows:,} rows)"
                print(engine, figures[f"engine_{engine}"], flush=True)
            report = pipeline.run(
                conn,
                settings,
                work / "models",
                work / "ray_results",
                tune=True,
                samples=args.samples,
                promote=True,
                ground_truth=work / "ground_truth",
                log=lambda m: print(m, flush=True),
            )
            split = report.split
            frame = dataset.to_pandas(dataset.build(conn, list(split.train)))
            spec = dataset.FeatureSpec.from_frame(frame)
            t = time.perf_counter()
            pipeline.local_fit(spec, frame, frame["overall"].to_numpy(), report.params, settings.num_boost_round)
            figures["local_fit"] = f"{time.perf_counter() - t:.1f} s"
            models = scoring.require_active_models(conn, work / "models")
            t = time.perf_counter()
            scored = scoring.score_all(conn, models, END)
            figures["score_all"] = f"{scored:,} buildings in {time.perf_counter() - t:.1f} s"
        print_section(args, settings, report, figures)
    finally:
        if not args.keep:
            drop_database(admin, name)


def print_section(args, settings, report, figures) -> None:
    from training.evaluate import markdown

    t = report.timings
    safety = next(r for r in report.results if r.kind == "safety")
    base = safety.baselines["weighted_open_count"]
    print("\n## Risk model\n")
    print(f"Command: `.venv/bin/python benchmarks/model.py --buildings {args.buildings} --samples {args.samples}`")
    print(f"City: {figures['city']}. Workers {settings.workers} x {settings.cpus_per_worker} CPU, ")
    print(f"{settings.num_boost_round} rounds, report every {settings.report_every}, ")
    print(f"{settings.max_concurrent_trials} trial(s) at once, {len(report.split.train)} training cutoffs.\n")
    print("| what | figure |\n|---|---|")
    for engine in args.engines.split(","):
        print(f"| dataset build, {engine} | {figures[f'engine_{engine}']} |")
    print(f"| training set build (all cutoffs, pandas) | {t['dataset_s']:.0f} s, {report.rows['all']:,} rows |")
    print(f"| Tune sweep, {args.samples} trials, ASHA | {t.get('sweep_s', 0):.0f} s ({report.sweep}) |")
    print(f"| 3 more Ray Train fits (safety, legal, financial) | {t['fit_s']:.0f} s |")
    print(f"| single-process xgboost, same training matrix (overall) | {figures['local_fit']} |")
    print(f"| batch scoring (`score_all`) | {figures['score_all']} |")
    ratio = safety.model.roc_auc / safety.oracle_auc if safety.oracle_auc else float("nan")
    print(f"| Safety ROC AUC / oracle AUC | {safety.model.roc_auc:.3f} / {safety.oracle_auc:.3f} = {ratio:.3f} |")
    gain = safety.top5_gain()
    print(f"| Safety top-5 % true positives over weighted count | {gain:+.1%} |" if gain is not None else "")
    print(f"| Safety Brier model / weighted count | {safety.model.brier:.4f} / {base.brier:.4f} |\n")
    print(markdown(report.results, report.folds))


if __name__ == "__main__":
    main()
