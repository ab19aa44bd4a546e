"""Which buildings `rescore_changed` rescores: those whose records changed after their latest score. After its first
call it reads only the records of the runs past its mark (`rescore_mark`), through their `last_run_id` index,
instead of grouping every record of the city by lot; every way a run changes a record (the writer, placing an
unplaced record on a lot, tombstoning a deleted one) sets that run id, and a run still going is read again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from sentinel.datasets import load_datasets
from sentinel.ingest import locate, pipeline
from sentinel.risk import scoring
from sentinel.risk.service import ModelUnavailableError, ScoreService, connect_to
from tests.conftest import drop_database, ingestion_run, migrated_database

LOTS = [f"10000{i:05d}" for i in range(1, 7)]  # Manhattan, block 0, lots 1-6


@pytest.fixture
def city(pg_admin_url: str) -> Iterator[psycopg.Connection]:
    name, _, url = migrated_database(pg_admin_url, prefix="vs_rescore")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO properties (bbl, borough, block, lot, address, address_key) "
            "SELECT bbl, 1, 0, right(bbl, 4)::int, 'x', 'K' || bbl FROM unnest(%s::text[]) bbl",
            (LOTS,),
        )
        yield conn
    drop_database(pg_admin_url, name)


def _violation(conn: psycopg.Connection, source_id: str, bbl: str, run: int) -> None:
    conn.execute(
        "INSERT INTO violations (source, source_id, bbl, severity, status, raw, content_hash, last_run_id) "
        "VALUES ('HPD', %s, %s, 'hazardous', 'open', '{}', 'h', %s) ON CONFLICT (source, source_id) DO UPDATE "
        "SET updated_at = clock_timestamp(), last_run_id = EXCLUDED.last_run_id",
        (source_id, bbl, run),
    )


def _score(conn: psycopg.Connection, bbls: list[str]) -> None:
    conn.execute(
        "INSERT INTO risk_scores (bbl, as_of, overall, safety, legal, financial, p_overall, p_safety, p_legal, "
        "p_financial, trend, reasons, model_versions, computed_at) "
        "SELECT bbl, current_date, 1, 1, 1, 1, 0, 0, 0, 0, 'flat', '[]', '{}', clock_timestamp() "
        "FROM unnest(%s::text[]) bbl ON CONFLICT (bbl, as_of) DO UPDATE SET computed_at = clock_timestamp()",
        (bbls,),
    )


def _rescore(conn: psycopg.Connection) -> list[str]:
    """What `ScoreService.rescore_changed` does around its scoring: the lots, stored scores, the mark moved."""
    changed = scoring.changed_since_scored(conn)
    _score(conn, changed.bbls)
    scoring.mark_rescored(conn, changed.through_run)
    return changed.bbls


def test_the_first_rescore_reads_every_record_then_only_the_runs_after_its_mark(city: psycopg.Connection) -> None:
    first = ingestion_run(city, "succeeded")
    for i, bbl in enumerate(LOTS[:4]):
        _violation(city, f"v{i}", bbl, first)
    _score(city, LOTS[:1])  # scored after its record was written: not stale
    assert _rescore(city) == LOTS[1:4]
    assert city.execute("SELECT run_id FROM rescore_mark").fetchone() == (first,)
    assert _rescore(city) == []

    second = ingestion_run(city, "succeeded")
    _violation(city, "v1", LOTS[1], second)  # changed by a later run
    _violation(city, "v4", LOTS[4], second)  # a new record on a lot never scored
    # Changed outside any run (by hand): no run says so, and the mark has passed its run.
    city.execute("UPDATE violations SET updated_at = clock_timestamp() WHERE bbl = %s", (LOTS[2],))
    assert _rescore(city) == [LOTS[1], LOTS[4]]
    assert city.execute("SELECT run_id FROM rescore_mark").fetchone() == (second,)


def test_a_run_still_going_is_read_again_once_it_ends(city: psycopg.Connection) -> None:
    _rescore(city)  # the mark is set; nothing to score
    going = ingestion_run(city, "running")
    _violation(city, "early", LOTS[0], going)  # committed by the run before the rescore
    ended_after = ingestion_run(city, "succeeded")  # a later run that ended while the first still goes
    _violation(city, "other", LOTS[1], ended_after)
    changed = scoring.changed_since_scored(city)
    assert changed.bbls == LOTS[:2]
    assert changed.through_run == going - 1  # not past the run still going
    _score(city, changed.bbls)
    scoring.mark_rescored(city, changed.through_run)

    _violation(city, "late", LOTS[2], going)  # written after that rescore read the run's records
    pipeline.finish_run(city, going, [])
    assert _rescore(city) == [LOTS[2]]  # the run read again: its late record seen, its early one already scored
    assert city.execute("SELECT run_id FROM rescore_mark").fetchone() == (ended_after,)


def test_a_record_placed_on_a_lot_or_tombstoned_by_a_run_makes_its_lot_stale(city: psycopg.Connection) -> None:
    old = ingestion_run(city, "succeeded")
    _violation(city, "gone", LOTS[3], old)
    city.execute(
        "INSERT INTO complaints (source, source_id, status, content_hash, raw, address_key, borough, last_run_id) "
        "VALUES ('311', 'unplaced', 'open', 'h', '{}', %s, 1, %s)",
        ("K" + LOTS[5], old),
    )
    assert _rescore(city) == [LOTS[3]]  # the complaint has no lot yet

    run = ingestion_run(city, "running")
    # The lots were read by this run: it places the old run's unplaced complaint, and the source lost "gone".
    assert locate.resolve_unlocated(city, "311", run_id=run) == {"address": 1}
    deleted = pipeline.reconcile_deletions(city, load_datasets()["hpd_violations"], [], run)
    assert deleted.deleted == 1
    pipeline.finish_run(city, run, [])
    assert _rescore(city) == [LOTS[3], LOTS[5]]


def test_a_rescore_that_fails_leaves_the_mark_so_the_next_does_it_again(
    city: psycopg.Connection, tmp_path: Path
) -> None:
    run = ingestion_run(city, "succeeded")
    _violation(city, "v", LOTS[0], run)
    _rescore(city)
    later = ingestion_run(city, "succeeded")
    _violation(city, "v", LOTS[0], later)
    service = ScoreService(connect_to(city.info.dsn), model_dir=tmp_path)  # no model there: scoring fails
    with pytest.raises(ModelUnavailableError):
        service.rescore_changed()
    assert city.execute("SELECT run_id FROM rescore_mark").fetchone() == (run,)
    assert _rescore(city) == [LOTS[0]]
