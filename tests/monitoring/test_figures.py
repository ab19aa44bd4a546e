"""The operating figures against a real seeded PostgreSQL, and their Prometheus exposition scraped over HTTP from
a running exporter."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sentinel.monitoring.collector import Sources, serve
from sentinel.monitoring.figures import read_figures
from sentinel.monitoring.summary import as_json, attention
from tests.conftest import free_port
from tests.monitoring.seed import CONFIGURED_DATASETS, CONFIGURED_JOBS

pytestmark = pytest.mark.integration


def _figures(url: str, now: datetime):  # type: ignore[no-untyped-def]
    with psycopg.connect(url, autocommit=True) as conn:
        return read_figures(conn, datasets=CONFIGURED_DATASETS, jobs=CONFIGURED_JOBS, now=now)


def test_ingestion_figures_per_dataset(monitored_db: str, seeded_at: datetime) -> None:
    f = {d.dataset: d for d in _figures(monitored_db, seeded_at).datasets}
    assert set(f) == {"dob_violations", "hpd_violations", "pluto"}
    hpd = f["hpd_violations"]
    assert hpd.lag_seconds(seeded_at) == 40 * 3600  # the newest of its partitions' watermarks
    assert hpd.last_run_status == "failed"  # its own error, though the run as a whole was 'partial'
    assert hpd.last_run_error == "HTTP 400 from the source"
    assert hpd.last_success_at == seeded_at - timedelta(hours=3)
    assert hpd.last_run_rows["fetched"] == 20 and hpd.last_run_rows["rejected"] == 1
    assert hpd.rows_last_day == {
        "fetched": 120,
        "inserted": 85,
        "updated": 13,
        "unchanged": 19,
        "rejected": 3,
        "deleted": 0,
    }
    assert hpd.rejects_stored == 3
    pluto = f["pluto"]
    assert pluto.last_run_status == "succeeded" and pluto.last_success_at == seeded_at - timedelta(hours=1)
    assert pluto.lag_seconds(seeded_at) == 10 * 86400
    never = f["dob_violations"]  # configured, never ingested: shown, not dropped
    assert (
        never.last_run_status is None and never.lag_seconds(seeded_at) is None and never.rows_last_day["fetched"] == 0
    )


def test_outbox_scheduler_scores_and_alerts(monitored_db: str, seeded_at: datetime) -> None:
    f = _figures(monitored_db, seeded_at)
    assert f.outbox.by_status == {"pending": 2, "sending": 0, "sent": 5, "dead": 2}
    assert f.outbox.oldest_due_seconds == 20 * 60  # the digest due in an hour is not late
    assert f.outbox.delivered_last_hour == 3  # immediate only, last hour only
    assert (f.outbox.latency_p50_seconds, f.outbox.latency_p95_seconds, f.outbox.latency_max_seconds) == (30, 48, 50)
    jobs = {j.job: j for j in f.jobs}
    assert jobs["ingest"].last_outcome == "failed" and jobs["ingest"].last_detail == "source answered 503"
    assert jobs["ingest"].last_success_at == seeded_at - timedelta(minutes=19)
    assert jobs["ingest"].runs_last_day == {"succeeded": 1, "failed": 1, "running": 0}
    assert jobs["score_daily"].last_outcome == "running"
    assert jobs["retrain_weekly"].last_outcome is None  # configured, never fired
    assert (f.scores.latest_day, f.scores.buildings) == (seeded_at.date(), 2)  # yesterday's row is not counted
    assert f.scores.newest_computed_at == seeded_at - timedelta(hours=2)
    assert f.scores.active_models == {"overall": "v-test-1"}
    assert (f.alerts_total, f.alerts_today) == (2, 1)
    assert 1 <= f.database.connections <= f.database.usable < f.database.max_connections


def test_attention_names_what_the_alert_rules_would_fire_on(monitored_db: str, seeded_at: datetime) -> None:
    lines = attention(_figures(monitored_db, seeded_at))
    assert any(line.startswith("ingestion of hpd_violations failed") for line in lines)
    assert any(line.startswith("hpd_violations is late") for line in lines)
    assert not any("pluto" in line for line in lines)  # 10 days is on time for PLUTO
    assert any(line.startswith("job ingest failed") for line in lines)
    assert any(line.startswith("outbox stuck") for line in lines)
    assert any("2 notifications are dead" in line for line in lines)
    assert not any("risk score" in line for line in lines)  # 2 h old


def test_the_json_form_is_plain_values(monitored_db: str, seeded_at: datetime) -> None:
    doc = as_json(_figures(monitored_db, seeded_at))
    hpd = next(d for d in doc["datasets"] if d["dataset"] == "hpd_violations")
    assert hpd["lag_seconds"] == 40 * 3600
    assert hpd["last_success_at"] == (seeded_at - timedelta(hours=3)).isoformat()
    assert doc["scores"]["age_seconds"] == 2 * 3600
    assert doc["outbox"]["by_status"]["dead"] == 2


@contextlib.contextmanager
def exporter(sources: Sources) -> Iterator[str]:
    port = free_port()
    server, thread = serve(sources, "127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        server.shutdown()  # type: ignore[attr-defined]
        thread.join(10)  # type: ignore[attr-defined]


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(url, timeout=60).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return samples[(name, frozenset(labels.items()))]


def test_the_exporter_serves_the_figures_over_http(monitored_db: str, redis_url: str) -> None:
    sources = Sources(monitored_db, redis_url, CONFIGURED_DATASETS, CONFIGURED_JOBS, {"ingest": 600, "notify": 60})
    with exporter(sources) as url:
        samples = scrape(url)
    assert _value(samples, "vs_db_up") == 1 and _value(samples, "vs_redis_up") == 1
    lag = _value(samples, "vs_ingest_lag_seconds", dataset="hpd_violations")
    assert 40 * 3600 <= lag < 40 * 3600 + 600  # measured against the clock of the scrape
    assert _value(samples, "vs_ingest_last_run_status", dataset="hpd_violations", status="failed") == 1
    assert _value(samples, "vs_ingest_last_run_status", dataset="dob_violations", status="never") == 1
    assert _value(samples, "vs_ingest_rows_last_day", dataset="hpd_violations", outcome="rejected") == 3
    assert _value(samples, "vs_outbox_notifications", status="pending") == 2
    assert _value(samples, "vs_outbox_delivery_latency_seconds", quantile="0.95") == 48
    assert _value(samples, "vs_scheduler_last_outcome", task="ingest", outcome="failed") == 1
    assert _value(samples, "vs_scheduler_runs_last_day", task="ingest", outcome="failed") == 1
    assert _value(samples, "vs_scheduler_interval_seconds", task="ingest") == 600
    assert _value(samples, "vs_scheduler_running_seconds", task="score_daily") >= 300
    assert _value(samples, "vs_models_active", score_kind="overall", version="v-test-1") == 1
    assert _value(samples, "vs_alerts_created_total") == 2
    assert _value(samples, "vs_redis_connected_clients") >= 1


def test_an_unreachable_database_is_reported_not_raised(redis_url: str) -> None:
    closed = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    with exporter(Sources(closed, redis_url)) as url:
        samples = scrape(url)
    assert _value(samples, "vs_db_up") == 0
    assert _value(samples, "vs_redis_up") == 1
    assert not any(name.startswith("vs_ingest") for name, _ in samples)
