"""The Prometheus exposition of the operating figures: a prometheus_client custom collector that reads PostgreSQL
(sentinel/monitoring/figures.py) and Redis INFO at every scrape, so what Prometheus stores is what the database
says at that moment, whichever process wrote it (Ray actors, the scheduler, a CLI run).

Served by `vsentinel exporter` on its own port (default 127.0.0.1:9464), like postgres_exporter beside a
database: the API's own port stays for customers, and a scrape never waits behind customer requests. The exporter
has no authentication: bind it to loopback or a network only Prometheus reaches.

Label `task` names a scheduler job: `job` is Prometheus's own target label and would be renamed on ingestion.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

import psycopg
import redis
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sentinel.monitoring.figures import ROW_OUTCOMES, Figures, read_figures

log = logging.getLogger(__name__)

DEFAULT_PORT = 9464
RUN_STATUSES = ("succeeded", "partial", "failed", "never")
JOB_OUTCOMES = ("succeeded", "failed", "running", "never")
# Redis INFO fields exported as they are: (field, metric, help, kind).
REDIS_FIELDS = (
    ("connected_clients", "vs_redis_connected_clients", "Client connections", "gauge"),
    ("maxclients", "vs_redis_maxclients", "Most client connections Redis accepts", "gauge"),
    ("used_memory", "vs_redis_used_memory_bytes", "Memory Redis uses", "gauge"),
    ("maxmemory", "vs_redis_maxmemory_bytes", "Redis memory limit (0: none)", "gauge"),
    ("keyspace_hits", "vs_redis_keyspace_hits", "Lookups that found their key", "counter"),
    ("keyspace_misses", "vs_redis_keyspace_misses", "Lookups that did not find their key", "counter"),
    ("evicted_keys", "vs_redis_evicted_keys", "Keys evicted for the memory limit", "counter"),
    ("rejected_connections", "vs_redis_rejected_connections", "Connections refused at maxclients", "counter"),
)


@dataclass(frozen=True, slots=True)
class Sources:
    """What the collector reads. `datasets` and `jobs` are the configured ones, so one that never ran still
    shows; `job_intervals` holds the seconds between an enabled job's due times."""

    database_url: str
    redis_url: str | None
    datasets: tuple[str, ...] = ()
    jobs: tuple[str, ...] = ()
    job_intervals: Mapping[str, float] | None = None


class SentinelCollector(Collector):
    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self._redis = (
            redis.Redis.from_url(sources.redis_url, socket_connect_timeout=3, socket_timeout=3)
            if sources.redis_url
            else None
        )

    def describe(self) -> list[Metric]:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        figures = self._read()
        yield _gauge("vs_db_up", "1 when the exporter could read PostgreSQL", 1 if figures else 0)
        if figures is not None:
            yield from figure_metrics(figures, self.sources.job_intervals or {})
        yield from redis_metrics(self._redis)
        yield _gauge("vs_exporter_scrape_seconds", "Time this scrape took", time.perf_counter() - started)

    def _read(self) -> Figures | None:
        try:
            with psycopg.connect(
                self.sources.database_url, connect_timeout=5, autocommit=True, application_name="vsentinel-exporter"
            ) as conn:
                return read_figures(conn, datasets=self.sources.datasets, jobs=self.sources.jobs)
        except psycopg.Error as error:
            log.warning("exporter could not read PostgreSQL: %s", error)
            return None


def serve(sources: Sources, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> tuple[object, object]:
    """Starts the HTTP endpoint (/metrics) in a daemon thread: (server, thread); `server.shutdown()` stops it."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SentinelCollector(sources))
    return start_http_server(port, addr=host, registry=registry)


def figure_metrics(f: Figures, job_intervals: Mapping[str, float]) -> Iterator[Metric]:
    yield from ingestion_metrics(f)
    yield from outbox_metrics(f)
    yield from scheduler_metrics(f, job_intervals)
    yield from score_metrics(f)
    yield _counter("vs_alerts_created", "Alerts created", f.alerts_total)
    yield _gauge("vs_alerts_today", "Alerts created since midnight UTC", f.alerts_today)
    db = f.database
    yield _gauge("vs_db_connections", "Client connections to the PostgreSQL server (all databases)", db.connections)
    yield _gauge("vs_db_max_connections", "PostgreSQL max_connections", db.max_connections)
    yield _gauge("vs_db_usable_connections", "max_connections less the superuser-reserved ones", db.usable)


def ingestion_metrics(f: Figures) -> Iterator[Metric]:
    lag = GaugeMetricFamily(
        "vs_ingest_lag_seconds", "Time since the newest :updated_at the source delivered", labels=["dataset"]
    )
    newest = GaugeMetricFamily(
        "vs_ingest_newest_source_update_timestamp_seconds", "Newest :updated_at ingested", labels=["dataset"]
    )
    last_run = GaugeMetricFamily("vs_ingest_last_run_timestamp_seconds", "End of the last run", labels=["dataset"])
    success = GaugeMetricFamily(
        "vs_ingest_last_success_timestamp_seconds", "End of the last run that read it fully", labels=["dataset"]
    )
    status = GaugeMetricFamily(
        "vs_ingest_last_run_status", "1 for the status of the dataset's last run", labels=["dataset", "status"]
    )
    rows = GaugeMetricFamily(
        "vs_ingest_last_run_rows", "Rows of the last run by outcome", labels=["dataset", "outcome"]
    )
    day = GaugeMetricFamily(
        "vs_ingest_rows_last_day", "Rows by outcome over the last 24 h of runs", labels=["dataset", "outcome"]
    )
    rejects = GaugeMetricFamily("vs_ingest_rejects", "Records kept in the rejects table", labels=["dataset"])
    for d in f.datasets:
        name = d.dataset
        if d.newest_source_update is not None:
            lag.add_metric([name], d.lag_seconds(f.at) or 0.0)
            newest.add_metric([name], _epoch(d.newest_source_update))
        if d.last_run_finished_at is not None:
            last_run.add_metric([name], _epoch(d.last_run_finished_at))
        if d.last_success_at is not None:
            success.add_metric([name], _epoch(d.last_success_at))
        current = d.last_run_status or "never"
        for value in RUN_STATUSES:
            status.add_metric([name, value], 1 if value == current else 0)
        for outcome in ROW_OUTCOMES:
            rows.add_metric([name, outcome], d.last_run_rows.get(outcome, 0))
            day.add_metric([name, outcome], d.rows_last_day.get(outcome, 0))
        rejects.add_metric([name], d.rejects_stored)
    yield from (lag, newest, last_run, success, status, rows, day, rejects)


def outbox_metrics(f: Figures) -> Iterator[Metric]:
    o = f.outbox
    counts = GaugeMetricFamily("vs_outbox_notifications", "Notifications by status", labels=["status"])
    for status, n in o.by_status.items():
        counts.add_metric([status], n)
    yield counts
    yield _gauge(
        "vs_outbox_oldest_due_seconds",
        "How long the oldest due notification has waited (0: none)",
        o.oldest_due_seconds,
    )
    yield _gauge(
        "vs_outbox_delivered_last_hour", "Immediate notifications sent in the last hour", o.delivered_last_hour
    )
    latency = GaugeMetricFamily(
        "vs_outbox_delivery_latency_seconds",
        "Created -> sent of immediate notifications sent in the last hour",
        labels=["quantile"],
    )
    for q, value in (("0.5", o.latency_p50_seconds), ("0.95", o.latency_p95_seconds), ("1", o.latency_max_seconds)):
        if value is not None:
            latency.add_metric([q], value)
    yield latency


def scheduler_metrics(f: Figures, job_intervals: Mapping[str, float]) -> Iterator[Metric]:
    outcome = GaugeMetricFamily(
        "vs_scheduler_last_outcome", "1 for the outcome of the job's latest firing", labels=["task", "outcome"]
    )
    success = GaugeMetricFamily(
        "vs_scheduler_last_success_timestamp_seconds", "End of the job's last successful firing", labels=["task"]
    )
    running = GaugeMetricFamily(
        "vs_scheduler_running_seconds", "How long the job's current firing has run (0: idle)", labels=["task"]
    )
    runs = GaugeMetricFamily(
        "vs_scheduler_runs_last_day", "Firings started in the last 24 h by outcome", labels=["task", "outcome"]
    )
    interval = GaugeMetricFamily(
        "vs_scheduler_interval_seconds", "Time between the job's due times (its cron)", labels=["task"]
    )
    for job in f.jobs:
        current = job.last_outcome or "never"
        for value in JOB_OUTCOMES:
            outcome.add_metric([job.job, value], 1 if value == current else 0)
        if job.last_success_at is not None:
            success.add_metric([job.job], _epoch(job.last_success_at))
        busy = job.last_outcome == "running" and job.last_started_at is not None
        running.add_metric([job.job], (f.at - job.last_started_at).total_seconds() if busy else 0.0)  # type: ignore[operator]
        for value in ("succeeded", "failed"):
            runs.add_metric([job.job, value], job.runs_last_day.get(value, 0))
        if job.job in job_intervals:
            interval.add_metric([job.job], job_intervals[job.job])
    yield from (outcome, success, running, runs, interval)


def score_metrics(f: Figures) -> Iterator[Metric]:
    s = f.scores
    yield _gauge("vs_scores_buildings", "Buildings scored for the newest scoring day", s.buildings)
    age = GaugeMetricFamily("vs_scores_age_seconds", "Time since the newest score was computed")
    if s.newest_computed_at is not None:
        age.add_metric([], (f.at - s.newest_computed_at).total_seconds())
    yield age
    models = GaugeMetricFamily("vs_models_active", "1 per active model", labels=["score_kind", "version"])
    for kind, version in s.active_models.items():
        models.add_metric([kind, version], 1)
    yield models


def redis_metrics(client: redis.Redis | None) -> Iterator[Metric]:
    info = None
    if client is not None:
        try:
            info = client.info()
        except redis.RedisError as error:
            log.warning("exporter could not read Redis: %s", error)
    yield _gauge("vs_redis_up", "1 when the exporter could read Redis INFO", 1 if info else 0)
    for field, name, doc, kind in REDIS_FIELDS if info else ():
        value = float(info.get(field, 0) or 0)  # type: ignore[union-attr]
        yield _counter(name, doc, value) if kind == "counter" else _gauge(name, doc, value)


def metric_names(families: Iterable[Metric]) -> set[str]:
    """Every sample name a scrape of these families shows (counters as *_total, and so on)."""
    return {sample.name for family in families for sample in family.samples}


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _epoch(value: datetime) -> float:
    return value.timestamp()
