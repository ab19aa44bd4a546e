"""Scoring every lot with one worker (the city in one feature query) and with several (ranges of lots scored at
once, VS_SCORE_WORKERS), on a database that was loaded, trained and scored (issue 21; not a pytest test).

    .venv/bin/python benchmarks/score_all_workers.py --database URL --models DIR [--workers 1,2] [--rounds 1]
        [--parts N] [--as-of YYYY-MM-DD]

A kept `nyc_full.py` run's database, or one paused after its scoring: `ScoreService.score_all(workers)` of every
lot, each worker count in turn, `--rounds` times, as of the latest day risk_scores hold (or `--as-of`), so every
run overwrites the same rows and the rescore mark is not moved; nothing but those rows changes. `--parts` sets the
ranges the city is cut into (default: the service's, SCORE_PARTS_PER_WORKER a worker; one worker reads the city in
one query). Prints the lots, the seconds, the milliseconds a lot, and the machine's busy and iowait shares while
each ran. The first run of a round may read what the runs before it left in memory: compare rounds, or swap the
order (`--workers 2,1`).
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.ingest import MachineShare
from benchmarks.rescore_workers import worker_arguments
from sentinel.risk.service import ScoreService, connect_to


def scored_day(url: str) -> date:
    """The latest day risk_scores hold (today when they hold none)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT max(as_of) FROM risk_scores").fetchone()
    return row[0] if row and row[0] else datetime.now(UTC).date()


def main() -> None:
    parser = worker_arguments(__doc__ or "", rounds=1)
    parser.add_argument("--parts", type=int, default=None, help="ranges of lots (default: the service's)")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="the day scored (YYYY-MM-DD)")
    args = parser.parse_args()
    day = args.as_of or scored_day(args.database)
    service = ScoreService(connect_to(args.database), model_dir=args.models)
    for round_no in range(1, args.rounds + 1):
        for workers in args.workers:
            started = time.perf_counter()
            with MachineShare() as machine:
                lots = service.score_all(day, workers=workers, parts=args.parts)
            seconds = time.perf_counter() - started
            print(
                f"round {round_no}: workers {workers}: {lots:,} lots as of {day} in {seconds:.1f} s "
                f"({1000 * seconds / max(lots, 1):.2f} ms a lot; machine {machine.busy:.0%} busy, "
                f"{machine.iowait:.0%} iowait)",
                flush=True,
            )


if __name__ == "__main__":
    main()
