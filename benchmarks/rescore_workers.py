"""A day's rescore one chunk at a time and several at once (issue 21; not a pytest test).

    .venv/bin/python benchmarks/rescore_workers.py --database URL --models DIR [--workers 1,2] [--rounds 2]

On a database that was loaded, trained, scored and then ingested a day (a kept `nyc_full.py` run's, or one paused
after its days): the lots whose records the last ingestion run wrote are made due again (their scores' computed_at
moved back a day, the rescore mark put before that run), and `ScoreService.rescore_changed(workers)` rescores them,
each worker count in turn, `--rounds` times. Only risk_scores and the mark change: the records are not touched.
Prints the lots, the seconds and the milliseconds a lot of each rescore.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentinel.risk import scoring
from sentinel.risk.service import ScoreService, connect_to

_DUE_AGAIN = """
UPDATE risk_scores SET computed_at = computed_at - interval '1 day' WHERE bbl IN (
    SELECT bbl FROM violations WHERE last_run_id = %(run)s AND bbl IS NOT NULL
    UNION SELECT bbl FROM complaints WHERE last_run_id = %(run)s AND bbl IS NOT NULL)
"""


def make_due(url: str) -> int:
    """The last ended run's lots due for a rescore again; returns that run's id."""
    with psycopg.connect(url) as conn:
        run = scoring.ended_through(conn)
        assert run > 0, "no ingestion run ended in this database"
        conn.execute(_DUE_AGAIN, {"run": run})
        # Set, not moved forward only as `scoring.mark_rescored` does; and set when no rescore has marked yet, or
        # the rescore would group every record of the city instead of reading that run's.
        conn.execute(
            "INSERT INTO rescore_mark (run_id) VALUES (%s) ON CONFLICT (id) DO UPDATE SET run_id = EXCLUDED.run_id",
            (run - 1,),
        )
    return run


def worker_arguments(description: str, rounds: int) -> argparse.ArgumentParser:
    """The arguments of a benchmark of worker counts (this one's, benchmarks/score_all_workers.py's)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", required=True, help="PostgreSQL URL of the database")
    parser.add_argument("--models", required=True, type=Path, help="the model directory the run trained into")
    parser.add_argument(
        "--workers", default="1,2", type=worker_counts, help="worker counts to compare, comma-separated"
    )
    parser.add_argument("--rounds", type=int, default=rounds)
    return parser


def worker_counts(text: str) -> list[int]:
    return [int(n) for n in text.split(",")]


def main() -> None:
    args = worker_arguments(__doc__ or "", rounds=2).parse_args()
    counts = args.workers
    service = ScoreService(connect_to(args.database), model_dir=args.models)
    for round_no in range(1, args.rounds + 1):
        for workers in counts:
            run = make_due(args.database)
            started = time.perf_counter()
            lots = service.rescore_changed(workers)
            seconds = time.perf_counter() - started
            print(
                f"round {round_no}: workers {workers}: {lots:,} lots of run {run} in {seconds:.1f} s "
                f"({1000 * seconds / max(lots, 1):.2f} ms a lot)",
                flush=True,
            )


if __name__ == "__main__":
    main()
