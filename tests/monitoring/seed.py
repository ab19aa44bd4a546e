"""A small operating history with known figures: ingestion runs, watermarks and rejects, an outbox, the
scheduler's firings, scores and alerts, all timed relative to one `now`."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import orjson
import psycopg

from tests.alerts import seed as engine_seed

CONFIGURED_DATASETS = ("dob_violations", "hpd_violations", "pluto")
CONFIGURED_JOBS = ("ingest", "notify", "retrain_weekly", "score_daily")


def _summary(fetched: int, inserted: int, updated: int, rejected: int, error: str | None = None) -> dict[str, Any]:
    unchanged = fetched - inserted - updated - rejected
    return {"dataset": "", "fetched": fetched, "inserted": inserted, "updated": updated, "unchanged": unchanged,
            "rejected": rejected, "deleted": 0, "error": error, "anomaly": None}  # fmt: skip


def _run(
    conn: psycopg.Connection[Any], now: datetime, status: str, finished: datetime | None, stats: dict[str, Any]
) -> int:
    row = conn.execute(
        "INSERT INTO ingestion_runs (mode, source_url, datasets, status, started_at, finished_at, stats) "
        "VALUES ('incremental', 'http://replay', %s, %s, %s, %s, %s) RETURNING id",
        (list(stats), status, (finished or now) - timedelta(minutes=5), finished, orjson.dumps(stats).decode()),
    ).fetchone()
    assert row
    return int(row[0])


def seed_ingestion(conn: psycopg.Connection[Any], now: datetime) -> dict[str, int]:
    """hpd_violations: succeeded 3 h ago, failed 1 h ago, newest source update 40 h old (late). pluto: succeeded
    in both, newest update 10 days old (not late for PLUTO). A run still going is not counted."""
    first = _run(conn, now, "succeeded", now - timedelta(hours=3),
                 {"hpd_violations": _summary(100, 80, 10, 2), "pluto": _summary(50, 50, 0, 0)})  # fmt: skip
    second = _run(conn, now, "partial", now - timedelta(hours=1),
                  {"hpd_violations": _summary(20, 5, 3, 1, error="HTTP 400 from the source"),
                   "pluto": _summary(0, 0, 0, 0)})  # fmt: skip
    _run(conn, now, "running", None, {})
    for dataset, partition, age, run in (
        ("hpd_violations", "1", timedelta(hours=50), first),
        ("hpd_violations", "2", timedelta(hours=40), second),
        ("pluto", "all", timedelta(days=10), second),
    ):
        conn.execute(
            "INSERT INTO watermarks (dataset, partition, updated_at_mark, completed, run_id)"
            " VALUES (%s, %s, %s, true, %s)",
            (dataset, partition, now - age, run),
        )
    for n in range(3):
        raw = orjson.dumps({"n": n}).decode()
        conn.execute(
            "INSERT INTO rejects (run_id, dataset, reason, raw, raw_hash)"
            " VALUES (%s, 'hpd_violations', 'bad bbl', %s, %s)",
            (first, raw, hashlib.md5(raw.encode()).hexdigest()),
        )
    return {"first": first, "second": second}


def _notification(
    conn: psycopg.Connection[Any], org_id: int, status: str, created: datetime, *,
    next_attempt: datetime | None = None, sent: datetime | None = None, delivery: str = "immediate",
) -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO notifications (org_id, channel, target, payload, status, next_attempt_at, sent_at, created_at,"
        " delivery) VALUES (%s, 'console', 'ops', '{}', %s, %s, %s, %s, %s)",
        (org_id, status, next_attempt or created, sent, created, delivery),
    )


def seed_outbox(conn: psycopg.Connection[Any], org_id: int, now: datetime) -> None:
    """2 pending (one due for 20 minutes, one digest due in an hour), 2 dead, 5 sent: three immediate ones in the
    last hour after 10, 30 and 50 s, one two hours ago, one daily digest."""
    _notification(conn, org_id, "pending", now - timedelta(minutes=25), next_attempt=now - timedelta(minutes=20))
    _notification(conn, org_id, "pending", now - timedelta(minutes=5), next_attempt=now + timedelta(hours=1),
                  delivery="hourly")  # fmt: skip
    for _ in range(2):
        _notification(conn, org_id, "dead", now - timedelta(hours=5))
    for minutes, seconds in ((30, 10), (20, 30), (10, 50)):
        created = now - timedelta(minutes=minutes)
        _notification(conn, org_id, "sent", created, sent=created + timedelta(seconds=seconds))
    _notification(conn, org_id, "sent", now - timedelta(hours=2), sent=now - timedelta(hours=2) + timedelta(seconds=5))
    _notification(conn, org_id, "sent", now - timedelta(hours=20), sent=now - timedelta(minutes=15), delivery="daily")


def seed_jobs(conn: psycopg.Connection[Any], now: datetime) -> None:
    """ingest: succeeded, then failed; notify: succeeded; score_daily: running for 5 minutes; retrain: never."""
    for job, due, outcome, detail in (
        ("ingest", now - timedelta(minutes=20), "succeeded", "run 1"),
        ("ingest", now - timedelta(minutes=10), "failed", "source answered 503"),
        ("notify", now - timedelta(minutes=1), "succeeded", "sent 3"),
        ("score_daily", now - timedelta(minutes=5), "running", None),
    ):
        finished = None if outcome == "running" else due + timedelta(minutes=1)
        conn.execute(
            "INSERT INTO schedule_runs (job, due_at, started_at, finished_at, outcome, detail)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (job, due, due, finished, outcome, detail),
        )


def seed_scores_and_alerts(conn: psycopg.Connection[Any], org_id: int, now: datetime) -> None:
    """Two buildings, three score rows, the newest computed 2 h ago; one active model; two alerts, one today."""
    for bbl, days, computed in (
        ("1000010001", 1, now - timedelta(hours=26)),
        ("1000010001", 0, now - timedelta(hours=2)),
        ("1000010002", 0, now - timedelta(hours=3)),
    ):
        conn.execute(
            "INSERT INTO risk_scores (bbl, as_of, overall, safety, legal, financial, p_overall, p_safety, p_legal,"
            " p_financial, trend, model_versions, computed_at)"
            " VALUES (%s, %s, 50, 50, 50, 50, 0.5, 0.5, 0.5, 0.5, 'flat', '{}', %s)",
            (bbl, (now - timedelta(days=days)).date(), computed),
        )
    conn.execute(
        "INSERT INTO models (score_kind, version, artifact_uri, is_active, promoted_at)"
        " VALUES ('overall', 'v-test-1', 'file:///models/v1', true, %s),"
        " ('overall', 'v-test-0', 'file:///models/v0', false, NULL)",
        (now - timedelta(days=3),),
    )
    rule_id = engine_seed.rule(conn, org_id, {"type": "new_violation"}, [{"channel": "console", "target": "ops"}])
    for key, created in (("a", now), ("b", now - timedelta(days=3))):
        conn.execute(
            "INSERT INTO alerts (rule_id, org_id, bbl, trigger_key, title, created_at)"
            " VALUES (%s, %s, '1000010001', %s, 'test', %s)",
            (rule_id, org_id, key, created),
        )


def seed_all(conn: psycopg.Connection[Any], now: datetime) -> None:
    """Everything, dated relative to `now`: the exporter and the CLI measure against the real clock, so `now` is
    taken when the database is seeded, not when this module is imported (a whole run reaches these tests many
    minutes after collection)."""
    org_id = engine_seed.org(conn, "Monitored")
    seed_ingestion(conn, now)
    seed_outbox(conn, org_id, now)
    seed_jobs(conn, now)
    seed_scores_and_alerts(conn, org_id, now)
    conn.commit()
