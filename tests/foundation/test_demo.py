"""The demo's city lives in today: it ends on the day the demo runs (any day), shows deadlines ahead, catches up
with the days it missed, and what it publishes survives a restart of the replay server. Real PostgreSQL, the
replay server and the ingestion; no Ray (the demo's Ray parts are the ingestion and models tested elsewhere)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from citysim.replay.server import serve_in_background
from cluster.demo import DEMO_RULES, bring_up_to_date, demo_organization, prepare_city, upcoming_deadlines
from sentinel.alerts.conditions import NewViolation
from sentinel.alerts.engine import evaluate_run, evaluate_time_based
from sentinel.alerts.events import ViolationChange
from sentinel.db import migrate
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from sentinel.raw_records import RECORD_COLUMNS, stored_record
from sentinel.source_pages import PageReader

DATASETS = ["pluto", "hpd_violations"]


def _load(db_url: str, url: str, incremental: bool) -> int:
    run_id, summaries = run_serial(db_url, SocrataSource(url), RunOptions(datasets=DATASETS, incremental=incremental))
    assert not [s for s in summaries if s.error], summaries
    return run_id


def _last_inspected(conn: psycopg.Connection) -> date:
    """The latest inspection day of the stored HPD violations, read from their source records."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"SELECT {', '.join(RECORD_COLUMNS)} FROM violations WHERE source = 'HPD'").fetchall()
    pages = PageReader(conn)
    return max(date.fromisoformat(stored_record(row, pages)["inspectiondate"][:10]) for row in rows)


@pytest.mark.parametrize("day", [date(2024, 2, 29), date(2025, 7, 4), date(2026, 1, 2)])
def test_the_demo_city_ends_on_the_day_it_runs_and_has_deadlines_ahead(
    empty_database_url: str, tmp_path: Path, day: date
) -> None:
    migrate.upgrade(empty_database_url)
    city = prepare_city(tmp_path, 40, 5, day, print)
    assert (city.end, city.start) == (day, date(day.year - 7, 1, 1))
    with serve_in_background(city.path) as replay:
        assert bring_up_to_date(city, replay, replay.url, day, print) == 0
        _load(empty_database_url, replay.url, incremental=False)
    demo_organization(empty_database_url)

    with psycopg.connect(empty_database_url) as conn:
        last_inspected = _last_inspected(conn)
    assert day - timedelta(days=14) <= last_inspected <= day
    total, first = upcoming_deadlines(empty_database_url, day)
    assert total > 0
    assert all(day <= due <= day + timedelta(days=60) for due, *_ in first)


def test_a_later_day_catches_up_its_news_is_notified_and_a_restart_keeps_it(
    empty_database_url: str, tmp_path: Path
) -> None:
    migrate.upgrade(empty_database_url)
    first_day, later = date(2025, 3, 3), date(2025, 3, 17)
    city = prepare_city(tmp_path, 40, 5, first_day, print)
    with serve_in_background(city.path, cache=True) as replay:
        first_run = _load(empty_database_url, replay.url, incremental=False)
    demo_organization(empty_database_url)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        first = evaluate_run(conn, first_run, now=None)
        evaluate_time_based(conn)
        assert first.notifications == 0 and first.baseline == first.alerts_created > 0

        # Two weeks later: the same city, with what it would have published in between.
        assert prepare_city(tmp_path, 40, 5, later, print).end == first_day
        with serve_in_background(city.path, cache=True) as replay:
            published = bring_up_to_date(city, replay, replay.url, later, print)
            later_run = _load(empty_database_url, replay.url, incremental=True)
        assert published > 0
        assert first_day < _last_inspected(conn) <= later
        news = evaluate_run(conn, later_run)
        assert news.baseline == 0 and news.alerts_created == news.notified
        assert upcoming_deadlines(empty_database_url, later)[0] > 0

        # A restarted replay server serves the published days again, exactly as the ingester last saw them.
        with serve_in_background(city.path, cache=True) as replay:
            assert bring_up_to_date(city, replay, replay.url, later, print) == 0
            _load(empty_database_url, replay.url, incremental=True)
        deleted, count = conn.execute(
            "SELECT count(*) FILTER (WHERE is_deleted), count(*) FROM violations WHERE source_id::bigint >= 900000000"
        ).fetchone()
        assert (deleted, count) == (0, published)


def test_the_demo_rule_called_new_class_c_matches_class_c_and_not_vacate_orders() -> None:
    (condition,) = [NewViolation(**c) for name, c in DEMO_RULES if name == "New Class C violation"]
    hazardous = "immediately_hazardous"
    assert condition.accepts(ViolationChange("HPD", "1", "1000010001", "open", violation_class="C", severity=hazardous))
    assert not condition.accepts(ViolationChange("HPD_VACATE", "2", "1000010001", "open", severity=hazardous))
    assert not condition.accepts(ViolationChange("DOB", "3", "1000010001", "open", severity=hazardous))
    assert not condition.accepts(ViolationChange("HPD", "4", "1000010001", "open", violation_class="B"))
