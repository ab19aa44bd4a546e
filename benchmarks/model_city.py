"""The risk model on the product's own city (not a pytest test): quality, and what training and scoring cost.

    .venv/bin/python benchmarks/model_city.py --buildings 1500 [--start 2019-01-01 --end 2025-11-30 --seed 2026]
        [--samples 16] [--engines pandas,modin] [--concurrent 2] [--train-cutoffs 12] [--rounds 300]

`vsentinel synth` writes the city (Socrata formats + ground truth), the replay server serves it, the Ray ingestion
pipeline loads it into a fresh database on the local PostgreSQL (VS_BENCH_PG, default
postgresql://postgres@127.0.0.1:5432/postgres), then `training.pipeline.run` trains, calibrates and evaluates the four
scores out of time (default parameters of configs/tune.yaml; a Tune sweep of --samples trials, as `vsentinel train
--tune --samples N` runs it, when given). Then a single-process xgboost fit of the same training matrix (what Ray
Train costs over it) and `score_all` of every building. Prints, per score, the model, both baselines and the
generator's oracle with bootstrap intervals of the ROC AUC and of the difference to the weighted open count (the
promotion gate), and the timings, as markdown for benchmarks/RESULTS.md. --engines also times the dataset build
of two cutoffs per dataframe engine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from citysim.replay.server import serve_in_background
from cluster import ray_runtime
from cluster.ingest import run_ingestion
from sentinel.datasets import load_datasets
from sentinel.db import migrate
from sentinel.risk import scoring
from sentinel.settings import load_settings
from tests.conftest import create_database, database_url_for, drop_database
from training import dataset, distributed, pipeline
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
    parser.add_argument("--train-cutoffs", type=int, default=None, help="Training cutoffs (default: tune.yaml).")
    parser.add_argument("--concurrent", type=int, default=None, help="Trials at once (default: tune.yaml).")
    parser.add_argument("--engines", default="", help="Time the dataset build per engine, e.g. pandas,modin.")
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
        chosen = {"num_boost_round": args.rounds, "eval_folds": args.folds, "max_train_cutoffs": args.train_cutoffs,
                  "max_concurrent_trials": args.concurrent}  # fmt: skip
        settings = load_training_settings(**{k: v for k, v in chosen.items() if v})
        with psycopg.connect(url) as conn:
            conn.execute("ANALYZE")
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM properties), (SELECT count(*) FROM violations), "
                "(SELECT count(*) FROM complaints)"
            ).fetchone()
            figures["city"] = f"{counts[0]:,} properties, {counts[1]:,} violations, {counts[2]:,} complaints"
            for engine in filter(None, args.engines.split(",")):
                t = time.perf_counter()
                built = len(dataset.build(conn, [date(2024, 1, 1), date(2024, 4, 1)], engine=engine))
                figures[f"engine_{engine}"] = f"{time.perf_counter() - t:.1f} s for 2 cutoffs ({built:,} rows)"
                print(engine, figures[f"engine_{engine}"], flush=True)
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
            figures |= _fit_and_score(conn, settings, report, work / "models", date.fromisoformat(args.end))
        print_section(args, settings, report, figures)
    finally:
        if args.keep:
            print(f"kept the database {name}: {url}")
        else:
            drop_database(admin, name)


def _fit_and_score(conn: psycopg.Connection, settings, report, model_dir: Path, as_of: date) -> dict[str, str]:
    """A single-process xgboost fit of the overall score's training matrix, then `score_all` of every building."""
    frame = dataset.to_pandas(dataset.build(conn, list(report.split.train)))
    spec = dataset.FeatureSpec.from_frame(frame)
    t = time.perf_counter()
    features = distributed.feature_array(spec, frame)
    pipeline.local_fit(spec, features, frame["overall"].to_numpy(), report.params, settings.num_boost_round)
    figures = {"local_fit": f"{time.perf_counter() - t:.1f} s"}
    models = scoring.require_active_models(conn, model_dir)
    t = time.perf_counter()
    scored = scoring.score_all(conn, models, as_of)
    figures["score_all"] = f"{scored:,} buildings in {time.perf_counter() - t:.1f} s"
    return figures


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
    print_timings(args, settings, report, figures)
    print()
    print(markdown(report.results, report.folds))


def print_timings(args, settings, report, figures) -> None:
    t = report.timings
    safety = next(r for r in report.results if r.kind == "safety")
    base = safety.baselines["weighted_open_count"]
    print(
        f"\nRay Train: {settings.workers} workers x {settings.cpus_per_worker} CPU, a report every "
        f"{settings.report_every} rounds, {settings.max_concurrent_trials} trial(s) at once, "
        f"{len(report.split.train)} training cutoffs.\n"
    )
    print("| what | figure |\n|---|---|")
    for engine in filter(None, args.engines.split(",")):
        print(f"| dataset build, {engine} | {figures[f'engine_{engine}']} |")
    print(f"| training set build (all cutoffs, pandas) | {t['dataset_s']:.0f} s, {report.rows['all']:,} rows |")
    if args.samples:
        print(f"| Tune sweep, {args.samples} trials, ASHA | {t.get('sweep_s', 0):.0f} s ({report.sweep}) |")
    print(f"| Ray Train fits | {t['fit_s']:.0f} s |")
    print(f"| single-process xgboost, same training matrix (overall) | {figures['local_fit']} |")
    print(f"| batch scoring (`score_all`) | {figures['score_all']} |")
    ratio = safety.model.roc_auc / safety.oracle_auc if safety.oracle_auc else float("nan")
    print(f"| Safety ROC AUC / oracle AUC | {safety.model.roc_auc:.3f} / {safety.oracle_auc:.3f} = {ratio:.3f} |")
    gain = safety.top5_gain()
    if gain is not None:
        print(f"| Safety top-5 % true positives over weighted count | {gain:+.1%} |")
    print(f"| Safety Brier model / weighted count | {safety.model.brier:.4f} / {base.brier:.4f} |")


if __name__ == "__main__":
    main()
