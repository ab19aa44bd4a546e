"""`vsentinel status`: the figures of a real seeded database on one screen, and as JSON."""

from __future__ import annotations

import json

import pytest

from tests.foundation.test_cli import run_cli

pytestmark = pytest.mark.integration


def test_status_json_carries_the_figures(monitored_db: str, redis_url: str) -> None:
    done = run_cli("status", "--json", env={"VS_DATABASE_URL": monitored_db, "VS_REDIS_URL": redis_url})
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    datasets = {d["dataset"]: d for d in doc["datasets"]}
    assert set(datasets) >= {"hpd_violations", "pluto", "dob_complaints"}  # every configured dataset
    assert datasets["hpd_violations"]["last_run_status"] == "failed"
    assert datasets["hpd_violations"]["lag_seconds"] >= 40 * 3600
    assert doc["outbox"]["by_status"] == {"pending": 2, "sending": 0, "sent": 5, "dead": 2}
    jobs = {j["job"]: j for j in doc["jobs"]}
    assert jobs["ingest"]["last_outcome"] == "failed"
    assert jobs["retrain_weekly"]["last_outcome"] is None  # configured in configs/schedules.yaml, never fired
    assert doc["scores"]["buildings"] == 2 and doc["alerts_total"] == 2
    assert any(line.startswith("outbox stuck") for line in doc["attention"])


def test_status_prints_one_screen(monitored_db: str, redis_url: str) -> None:
    done = run_cli("status", env={"VS_DATABASE_URL": monitored_db, "VS_REDIS_URL": redis_url})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "need attention" in out
    assert "ingestion of hpd_violations failed" in out
    for heading in ("Ingestion", "Scheduler", "Outbox, scores, alerts, database"):
        assert heading in out
    assert "2 pending, 0 sending, 2 dead" in out
    assert len(out.splitlines()) < 60


def test_status_on_a_database_without_schema_says_so(empty_database_url: str, redis_url: str) -> None:
    done = run_cli("status", env={"VS_DATABASE_URL": empty_database_url, "VS_REDIS_URL": redis_url})
    assert done.returncode == 1
    assert "vsentinel db upgrade" in done.stderr
