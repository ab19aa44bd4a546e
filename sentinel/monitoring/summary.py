"""What `vsentinel status` shows beyond the raw figures: the plain-JSON form of them and the conditions that need
someone's attention. The thresholds are those of configs/monitoring/alerts.yml, so a person without Grafana sees
what would page."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from sentinel.monitoring.figures import Figures

LATE_AFTER_SECONDS = 36 * 3600  # alerts.yml SourceLate (daily datasets)
PLUTO_LATE_AFTER_SECONDS = 200 * 86400  # alerts.yml SourceLate (PLUTO)
OUTBOX_STUCK_SECONDS = 900  # alerts.yml OutboxStuck
SCORES_STALE_SECONDS = 36 * 3600  # alerts.yml ScoresStale
CONNECTIONS_SHARE = 0.9  # alerts.yml DatabaseConnectionsExhausted


def attention(f: Figures) -> list[str]:
    """One line per condition an alert rule would fire on (without its `for:` delay)."""
    out = []
    for d in f.datasets:
        lag = d.lag_seconds(f.at)
        limit = PLUTO_LATE_AFTER_SECONDS if d.dataset == "pluto" else LATE_AFTER_SECONDS
        if d.last_run_status == "failed":
            out.append(f"ingestion of {d.dataset} failed in run {d.last_run_id}: {d.last_run_error or 'see the run'}")
        if lag is not None and lag > limit:
            out.append(f"{d.dataset} is late: its newest source update is {human_seconds(lag)} old")
    for job in f.jobs:
        if job.last_outcome == "failed":
            out.append(f"job {job.job} failed on its last run: {job.last_detail or 'no detail'}")
    if f.outbox.oldest_due_seconds > OUTBOX_STUCK_SECONDS:
        out.append(f"outbox stuck: a due notification has waited {human_seconds(f.outbox.oldest_due_seconds)}")
    if f.outbox.by_status.get("dead"):
        out.append(f"{f.outbox.by_status['dead']} notifications are dead (gave up after their retries)")
    age = scores_age_seconds(f)
    if age is not None and age > SCORES_STALE_SECONDS:
        out.append(f"the newest risk score is {human_seconds(age)} old")
    db = f.database
    if db.usable and db.connections / db.usable > CONNECTIONS_SHARE:
        out.append(f"PostgreSQL connections near the limit: {db.connections} of {db.usable} usable")
    return out


def scores_age_seconds(f: Figures) -> float | None:
    newest = f.scores.newest_computed_at
    return (f.at - newest).total_seconds() if newest else None


def as_json(f: Figures) -> dict[str, Any]:
    """The figures as plain JSON values (dates and times as ISO 8601), with the derived ages and the attention list."""
    doc = _plain(asdict(f))
    for entry, d in zip(doc["datasets"], f.datasets, strict=True):
        entry["lag_seconds"] = d.lag_seconds(f.at)
    doc["scores"]["age_seconds"] = scores_age_seconds(f)
    doc["database"]["usable"] = f.database.usable
    doc["attention"] = attention(f)
    return doc


def human_seconds(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            rest = seconds % size
            small = {"d": 3600, "h": 60, "m": 1}[unit]
            return f"{seconds // size}{unit}" + (f" {rest // small}{'hms'['dhm'.index(unit)]}" if rest >= small else "")
    return f"{seconds}s"


def _plain(value: Any) -> Any:
    if isinstance(value, date):  # and datetime
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
