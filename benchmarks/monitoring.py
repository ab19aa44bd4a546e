"""What one scrape of `vsentinel exporter` costs the database after a year of operation (run directly against the
local PostgreSQL on 127.0.0.1:5432; a fresh database, dropped at the end).

    .venv/bin/python benchmarks/monitoring.py --days 365 --buildings 100000 --score-days 7 --repeat 5

The history follows configs/schedules.yaml's cadence: an ingestion run of 11 datasets every 10 minutes, a
scheduler firing of notify every minute, time_alerts every 5, ingest and rescore_changed every 10, digests hourly,
score_daily daily; `--buildings` risk scores a day for the last `--score-days` days; notifications, alerts and
rejects in proportion. Then every part of `read_figures` is timed, `--repeat` times (median, worst).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sentinel.monitoring import figures as f  # noqa: E402
from tests.conftest import LOCAL_PG, drop_database, migrated_database  # noqa: E402

DATASETS = 11
JOBS = {"notify": 1, "time_alerts": 5, "ingest": 10, "rescore_changed": 10, "digests": 60, "score_daily": 1440}

SEED = [
    # A run every 10 minutes, each with every dataset's summary.
    """INSERT INTO ingestion_runs (mode, source_url, datasets, status, started_at, finished_at, stats)
       SELECT 'incremental', 'https://data.cityofnewyork.us', ARRAY['d'],
              CASE WHEN n %% 97 = 0 THEN 'partial' ELSE 'succeeded' END,
              now() - n * interval '10 minutes', now() - n * interval '10 minutes' + interval '1 minute',
              (SELECT jsonb_object_agg('dataset_' || d, jsonb_build_object('fetched', 120, 'inserted', 10,
                 'updated', 30, 'unchanged', 78, 'rejected', 2, 'deleted', 0,
                 'error', CASE WHEN n %% 97 = 0 AND d = 1 THEN 'HTTP 503' END)) FROM generate_series(1, %(datasets)s) d)
       FROM generate_series(1, %(days)s * 144) n""",
    """INSERT INTO watermarks (dataset, partition, updated_at_mark, completed)
       SELECT 'dataset_' || d, p::text, now() - (d * p) * interval '1 hour', true
       FROM generate_series(1, %(datasets)s) d, generate_series(1, 5) p""",
    """INSERT INTO rejects (dataset, reason, raw, raw_hash)
       SELECT 'dataset_' || (n %% %(datasets)s + 1), 'bad bbl', jsonb_build_object('n', n), md5(n::text)
       FROM generate_series(1, %(days)s * 300) n""",
    """INSERT INTO organizations (name) VALUES ('bench')""",
    """INSERT INTO notifications (org_id, channel, target, payload, status, next_attempt_at, sent_at, created_at)
       SELECT (SELECT min(id) FROM organizations), 'email', 'ops@example.com', '{}',
              CASE WHEN n %% 1000 = 0 THEN 'dead' ELSE 'sent' END, now() - n * interval '1 minute',
              CASE WHEN n %% 1000 = 0 THEN NULL ELSE now() - n * interval '1 minute' + interval '20 seconds' END,
              now() - n * interval '1 minute'
       FROM generate_series(1, %(days)s * 600) n""",
]


def seed(conn: psycopg.Connection[Any], days: int, buildings: int, score_days: int) -> None:
    params = {"days": days, "datasets": DATASETS}
    for statement in SEED:
        conn.execute(statement, params)
    for job, minutes in JOBS.items():
        conn.execute(
            "INSERT INTO schedule_runs (job, due_at, started_at, finished_at, outcome)"
            " SELECT %(job)s, now() - n * %(every)s * interval '1 minute', now() - n * %(every)s * interval '1 minute',"
            " now() - n * %(every)s * interval '1 minute' + interval '5 seconds',"
            " CASE WHEN n %% 211 = 0 THEN 'failed' ELSE 'succeeded' END"
            " FROM generate_series(1, %(runs)s) n",
            {"job": job, "every": minutes, "runs": days * 1440 // minutes},
        )
    conn.execute(
        "INSERT INTO risk_scores (bbl, as_of, overall, safety, legal, financial, p_overall, p_safety, p_legal,"
        " p_financial, trend, model_versions, computed_at)"
        " SELECT lpad((1000000000 + b)::text, 10, '0'), current_date - d, 50, 50, 50, 50, 0.5, 0.5, 0.5, 0.5,"
        " 'flat', '{}', now() - d * interval '1 day'"
        " FROM generate_series(1, %(buildings)s) b, generate_series(0, %(days)s - 1) d",
        {"buildings": buildings, "days": score_days},
    )
    conn.commit()
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE")


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    took = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        took.append((time.perf_counter() - began) * 1000)
    return statistics.median(took), max(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--buildings", type=int, default=100_000)
    parser.add_argument("--score-days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    name, owner_url, app_url = migrated_database(LOCAL_PG, prefix="vs_bench_mon")
    try:
        began = time.perf_counter()
        with psycopg.connect(owner_url) as conn:
            seed(conn, args.days, args.buildings, args.score_days)
            counts = {
                table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
                for table in ("ingestion_runs", "schedule_runs", "notifications", "rejects", "risk_scores")
            }
        print(f"seeded in {time.perf_counter() - began:.0f} s: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
        now = datetime.now(UTC)
        with psycopg.connect(app_url, autocommit=True) as conn:
            parts: dict[str, Callable[[], object]] = {
                "datasets": lambda: f.dataset_figures(conn, []),
                "outbox": lambda: f.outbox_figures(conn, now),
                "jobs": lambda: f.job_figures(conn, []),
                "scores": lambda: f.score_figures(conn),
                "database": lambda: f.database_figures(conn),
                "read_figures (all)": lambda: f.read_figures(conn, now=now),
            }
            print(f"{'part':<20} {'median ms':>10} {'worst ms':>9}")
            for part, call in parts.items():
                median, worst = timed(call, args.repeat)
                print(f"{part:<20} {median:>10.1f} {worst:>9.1f}")
    finally:
        drop_database(LOCAL_PG, name)


if __name__ == "__main__":
    main()
