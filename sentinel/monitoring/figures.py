"""The operating figures that live in PostgreSQL: ingestion per dataset, the outbox, the scheduler's jobs, scores,
alerts and the server's connections. One read-only pass (`read_figures`) feeds both the Prometheus collector
(sentinel/monitoring/collector.py) and `vsentinel status`, so the two never disagree.

Every query is bounded by an index or a time window, so a scrape costs the same after a year of history
(benchmarks/monitoring.py), except the per-status counts of `notifications` (one row per alert and channel).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import psycopg

from sentinel.db.rows import all_dicts

# The per-dataset counts of a run that are summed over every finished run (DatasetSummary in ingest/pipeline.py).
ROW_OUTCOMES = ("fetched", "inserted", "updated", "unchanged", "rejected", "deleted")
OUTBOX_STATUSES = ("pending", "sending", "sent", "dead")


@dataclass(frozen=True, slots=True)
class DatasetFigures:
    dataset: str
    # The newest `:updated_at` the source has delivered (the highest watermark of the dataset's partitions).
    newest_source_update: datetime | None
    last_run_id: int | None
    last_run_status: str | None  # succeeded / failed / partial, for this dataset (a run's other datasets aside)
    last_run_finished_at: datetime | None
    last_run_error: str | None
    last_run_rows: dict[str, int]
    last_success_at: datetime | None  # the last run that read it fully, within 30 days
    rows_last_day: dict[str, int]  # outcome -> rows over the runs of the last 24 hours
    rejects_stored: int  # distinct records in `rejects` (a record rejected again is the same reject)

    def lag_seconds(self, now: datetime) -> float | None:
        return (now - self.newest_source_update).total_seconds() if self.newest_source_update else None


@dataclass(frozen=True, slots=True)
class OutboxFigures:
    by_status: dict[str, int]
    # How long the oldest notification that is due (its backoff, quiet hours or digest time over) has waited
    # since it became due: 0 when nothing is due. Digests not yet due are not late.
    oldest_due_seconds: float
    delivered_last_hour: int
    # Immediate notifications sent in the last hour: created -> sent.
    latency_p50_seconds: float | None
    latency_p95_seconds: float | None
    latency_max_seconds: float | None


@dataclass(frozen=True, slots=True)
class JobFigures:
    job: str
    last_outcome: str | None  # running / succeeded / failed
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_success_at: datetime | None
    last_detail: str | None
    runs_last_day: dict[str, int]  # outcome -> firings started in the last 24 hours


@dataclass(frozen=True, slots=True)
class ScoreFigures:
    latest_day: date | None  # the newest `as_of` scored
    buildings: int  # buildings scored for that day
    newest_computed_at: datetime | None
    active_models: dict[str, str]  # score kind -> version


@dataclass(frozen=True, slots=True)
class DatabaseFigures:
    connections: int  # client backends on the whole server, every database and role
    max_connections: int
    reserved_connections: int  # superuser_reserved_connections (+ reserved_connections on 16+)

    @property
    def usable(self) -> int:
        return self.max_connections - self.reserved_connections


@dataclass(frozen=True, slots=True)
class Figures:
    at: datetime
    datasets: list[DatasetFigures]
    outbox: OutboxFigures
    jobs: list[JobFigures]
    scores: ScoreFigures
    alerts_total: int
    alerts_today: int  # since midnight UTC
    database: DatabaseFigures


def read_figures(
    conn: psycopg.Connection[Any],
    *,
    datasets: Iterable[str] = (),
    jobs: Iterable[str] = (),
    now: datetime | None = None,
) -> Figures:
    """Everything at once, in one transaction. `datasets` and `jobs` are the configured ones: they
    are reported even before they ever ran (an operator wants "never ran" to show, not vanish)."""
    now = now or datetime.now(UTC)
    with conn.transaction():
        return Figures(
            at=now,
            datasets=dataset_figures(conn, datasets, now),
            outbox=outbox_figures(conn, now),
            jobs=job_figures(conn, jobs, now),
            scores=score_figures(conn),
            alerts_total=_scalar(conn, "SELECT count(*) FROM alerts"),
            alerts_today=_scalar(conn, "SELECT count(*) FROM alerts WHERE created_at >= date_trunc('day', %s)", (now,)),
            database=database_figures(conn),
        )


_NEWEST = "SELECT dataset, max(updated_at_mark) AS newest FROM watermarks GROUP BY dataset"

# Per dataset: its last finished run and its last full read within 30 days, each an index walk from the newest run
# back; its row counts over the runs of the last 24 hours. Every part is bounded, however long the history grows
# (without the 30-day bound the planner misjudges the jsonb filter and sorts every run, benchmarks/RESULTS.md).
_RUNS = """
    SELECT d.dataset, last.id, last.status, last.finished_at, last.summary, ok.at AS success_at, day.*
    FROM unnest(%(datasets)s::text[]) AS d(dataset)
    LEFT JOIN LATERAL (
        SELECT r.id, r.status, r.finished_at, r.stats -> d.dataset AS summary FROM ingestion_runs r
        WHERE r.status <> 'running' AND r.stats ? d.dataset ORDER BY r.started_at DESC LIMIT 1
    ) last ON true
    LEFT JOIN LATERAL (
        SELECT r.finished_at AS at FROM ingestion_runs r
        WHERE r.started_at > %(now)s - interval '30 days' AND r.status IN ('succeeded', 'partial')
          AND r.stats ? d.dataset AND r.stats -> d.dataset ->> 'error' IS NULL
        ORDER BY r.started_at DESC LIMIT 1
    ) ok ON true
    LEFT JOIN LATERAL (
        SELECT sum((s->>'fetched')::bigint) AS fetched, sum((s->>'inserted')::bigint) AS inserted,
               sum((s->>'updated')::bigint) AS updated, sum((s->>'unchanged')::bigint) AS unchanged,
               sum((s->>'rejected')::bigint) AS rejected, sum((s->>'deleted')::bigint) AS deleted
        FROM ingestion_runs r CROSS JOIN LATERAL (SELECT r.stats -> d.dataset AS s) x
        WHERE r.status <> 'running' AND r.started_at > %(now)s - interval '1 day' AND r.stats ? d.dataset
    ) day ON true
"""
_REJECTS = "SELECT dataset, count(*) AS n FROM rejects GROUP BY dataset"


def dataset_figures(
    conn: psycopg.Connection[Any], configured: Iterable[str] = (), now: datetime | None = None
) -> list[DatasetFigures]:
    """The configured datasets and any other the watermarks or rejects know."""
    newest = {r["dataset"]: r["newest"] for r in all_dicts(conn, _NEWEST)}
    rejects = {r["dataset"]: int(r["n"]) for r in all_dicts(conn, _REJECTS)}
    names = sorted(set(configured) | newest.keys() | rejects.keys())
    params = {"datasets": names, "now": now or datetime.now(UTC)}
    last = {r["dataset"]: r for r in all_dicts(conn, _RUNS, params) if r["id"] is not None}
    out = []
    for name in names:
        run = last.get(name)
        summary: Mapping[str, Any] = (run or {}).get("summary") or {}
        out.append(
            DatasetFigures(
                dataset=name,
                newest_source_update=newest.get(name),
                last_run_id=run["id"] if run else None,
                last_run_status=_dataset_status(run["status"], summary) if run else None,
                last_run_finished_at=run["finished_at"] if run else None,
                last_run_error=summary.get("error") or summary.get("anomaly"),
                last_run_rows={o: int(summary.get(o) or 0) for o in ROW_OUTCOMES},
                last_success_at=run["success_at"] if run else None,
                rows_last_day={o: int((run or {}).get(o) or 0) for o in ROW_OUTCOMES},
                rejects_stored=rejects.get(name, 0),
            )
        )
    return out


def _dataset_status(run_status: str, summary: Mapping[str, Any]) -> str:
    """A run is 'partial' when any of its datasets failed; the dataset itself either failed, held deletions
    back (partial) or succeeded."""
    if run_status == "failed" or summary.get("error"):
        return "failed"
    if summary.get("anomaly"):
        return "partial"
    return "succeeded"


_OUTBOX_COUNTS = "SELECT status, count(*) AS n FROM notifications GROUP BY status"
# A 'sending' row whose lease ran out is due again (alerts/outbox.py): its next_attempt_at is the lease's end.
_OLDEST_DUE = """
    SELECT coalesce(extract(epoch FROM %(now)s - min(next_attempt_at)), 0) AS seconds
    FROM notifications WHERE status IN ('pending', 'sending') AND next_attempt_at <= %(now)s
"""
_LATENCY = """
    SELECT count(*) AS n,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at)) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at)) AS p95,
           max(extract(epoch FROM sent_at - created_at)) AS worst
    FROM notifications
    WHERE status = 'sent' AND delivery = 'immediate' AND sent_at > %(now)s - interval '1 hour'
"""


def outbox_figures(conn: psycopg.Connection[Any], now: datetime) -> OutboxFigures:
    counts = dict.fromkeys(OUTBOX_STATUSES, 0) | {r["status"]: int(r["n"]) for r in all_dicts(conn, _OUTBOX_COUNTS)}
    oldest = all_dicts(conn, _OLDEST_DUE, {"now": now})[0]["seconds"]
    latency = all_dicts(conn, _LATENCY, {"now": now})[0]
    return OutboxFigures(
        by_status=counts,
        oldest_due_seconds=max(0.0, float(oldest)),
        delivered_last_hour=int(latency["n"]),
        latency_p50_seconds=_float(latency["p50"]),
        latency_p95_seconds=_float(latency["p95"]),
        latency_max_seconds=_float(latency["worst"]),
    )


# The jobs schedule_runs knows, by a loose index scan (one index probe per job, not a pass over every firing).
_JOB_NAMES = """
    WITH RECURSIVE names AS (
        (SELECT job FROM schedule_runs ORDER BY job LIMIT 1)
        UNION ALL
        SELECT (SELECT r.job FROM schedule_runs r WHERE r.job > names.job ORDER BY r.job LIMIT 1)
        FROM names WHERE names.job IS NOT NULL
    )
    SELECT job FROM names WHERE job IS NOT NULL
"""
# Per job, each through the (job, started_at) index: its latest firing, its latest success, its last day's firings.
_JOBS = """
    SELECT j.job, last.outcome, last.started_at, last.finished_at, last.detail, ok.at AS success_at,
           day.succeeded, day.failed, day.running
    FROM unnest(%(jobs)s::text[]) AS j(job)
    LEFT JOIN LATERAL (
        SELECT outcome, started_at, finished_at, detail FROM schedule_runs r
        WHERE r.job = j.job ORDER BY r.started_at DESC LIMIT 1
    ) last ON true
    LEFT JOIN LATERAL (
        SELECT finished_at AS at FROM schedule_runs r
        WHERE r.job = j.job AND r.outcome = 'succeeded' ORDER BY r.started_at DESC LIMIT 1
    ) ok ON true
    LEFT JOIN LATERAL (
        SELECT count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
               count(*) FILTER (WHERE outcome = 'failed') AS failed,
               count(*) FILTER (WHERE outcome = 'running') AS running
        FROM schedule_runs r WHERE r.job = j.job AND r.started_at > %(now)s - interval '1 day'
    ) day ON true
"""


def job_figures(
    conn: psycopg.Connection[Any], configured: Iterable[str] = (), now: datetime | None = None
) -> list[JobFigures]:
    names = sorted(set(configured) | {r["job"] for r in all_dicts(conn, _JOB_NAMES)})
    out = []
    for row in all_dicts(conn, _JOBS, {"jobs": names, "now": now or datetime.now(UTC)}):
        out.append(
            JobFigures(
                job=row["job"],
                last_outcome=row["outcome"],
                last_started_at=row["started_at"],
                last_finished_at=row["finished_at"],
                last_success_at=row["success_at"],
                last_detail=row["detail"],
                runs_last_day={o: int(row[o] or 0) for o in ("succeeded", "failed", "running")},
            )
        )
    return sorted(out, key=lambda job: job.job)


_SCORES = """
    WITH latest AS (SELECT max(as_of) AS day FROM risk_scores)
    SELECT latest.day, count(s.bbl) AS buildings, max(s.computed_at) AS newest
    FROM latest LEFT JOIN risk_scores s ON s.as_of = latest.day GROUP BY latest.day
"""
_ACTIVE_MODELS = "SELECT score_kind, version FROM models WHERE is_active ORDER BY score_kind"


def score_figures(conn: psycopg.Connection[Any]) -> ScoreFigures:
    row = all_dicts(conn, _SCORES)[0]
    return ScoreFigures(
        latest_day=row["day"],
        buildings=int(row["buildings"]),
        newest_computed_at=row["newest"],
        active_models={r["score_kind"]: r["version"] for r in all_dicts(conn, _ACTIVE_MODELS)},
    )


# Every role may count pg_stat_activity's rows (only their details are hidden from other roles).
_CONNECTIONS = """
    SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS connections,
           current_setting('max_connections')::int AS max_connections,
           current_setting('superuser_reserved_connections')::int
             + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved
"""


def database_figures(conn: psycopg.Connection[Any]) -> DatabaseFigures:
    row = all_dicts(conn, _CONNECTIONS)[0]
    return DatabaseFigures(int(row["connections"]), int(row["max_connections"]), int(row["reserved"]))


def _scalar(conn: psycopg.Connection[Any], query: str, params: Any = None) -> int:
    row = conn.execute(query, params).fetchone()
    return int(row[0]) if row else 0


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
