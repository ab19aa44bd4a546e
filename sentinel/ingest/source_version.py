"""Whether a full-replace dataset changed since its last full read, from the source's `rowsUpdatedAt`
(`/api/views/<id>.json`, NYC_DATA.md 4.4).

A full-replace dataset (configs/datasets.yaml) has no usable `:updated_at`, so every run used to read it whole:
most of a day's ingestion at full size (benchmarks/RESULTS.md, "NYC at full size"). Its
publisher moves `rowsUpdatedAt` whenever its rows change (upserts, deletions, a replace), so an incremental run
asks for it first and skips the dataset when it has not moved since the last full read, which recorded it in
every partition's watermark with the rows it read (pipeline.commit_page).

The dataset is read, as before, whenever the skip cannot be trusted: the metadata could not be had; a partition
never finished a read, or finished one without recording the value; the run that read it failed or held back
deletions (a re-read repeats the reconciliation); or the value was within the overlap of when it was asked. The
last covers what the value cannot show: it has a resolution of one second, so a change later in the second of the
one it reports leaves it as it was; our clock and the portal's may differ; and Socrata serves queries from
replicas that may lag the value (`X-SODA2-Secondary-Last-Modified`). The cost is at most one more full read after
a publish, by the first run more than the overlap after it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from sentinel.datasets import DatasetConfig
from sentinel.ingest.socrata import SchemaDriftError, SocrataSource, SourceUnavailableError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourceVersion:
    """What the source said of a dataset's rows just before a read: `rows_updated_at` None when it did not say."""

    rows_updated_at: datetime | None
    checked_at: datetime
    problem: str | None = None  # why rows_updated_at is None


def ask(source: SocrataSource, config: DatasetConfig) -> SourceVersion:
    """The dataset's `rowsUpdatedAt`, asked now; a failure is returned, not raised: the dataset is then read."""
    checked_at = datetime.now(UTC)
    try:
        return SourceVersion(source.rows_updated_at(config.socrata_id), checked_at)
    except (SourceUnavailableError, SchemaDriftError) as error:
        return SourceVersion(None, checked_at, str(error))


@dataclass(frozen=True, slots=True)
class Decision:
    skip: bool
    reason: str  # why the dataset is read, or since when it is unchanged
    since: datetime | None = None  # the unchanged rowsUpdatedAt when skipped


_MARKS = """
SELECT w.partition, w.completed, w.source_rows_updated_at, w.source_checked_at, w.run_id, r.status,
       r.stats ? w.dataset AS reported, r.stats -> w.dataset ->> 'error' AS error,
       r.stats -> w.dataset ->> 'anomaly' AS anomaly
FROM watermarks w LEFT JOIN ingestion_runs r ON r.id = w.run_id
WHERE w.dataset = %s
"""


def decide(conn: psycopg.Connection, config: DatasetConfig, version: SourceVersion, *, overlap: timedelta) -> Decision:
    """Skip the dataset only when every partition's last full read finished cleanly at the same `rowsUpdatedAt` the
    source reports now, asked more than `overlap` after it."""
    now = version.rows_updated_at
    if now is None:
        return Decision(False, f"rowsUpdatedAt unknown ({version.problem}): read in full")
    marks = {row[0]: row[1:] for row in conn.execute(_MARKS, (config.name,)).fetchall()}
    for partition in config.partitions():
        if partition not in marks:
            return Decision(False, f"partition {partition} never read")
        completed, recorded, checked, run_id, status, reported, error, anomaly = marks[partition]
        if not completed:
            return Decision(False, f"partition {partition}'s last read did not finish")
        if recorded is None or checked is None:
            return Decision(False, "no rowsUpdatedAt recorded by the last full read")
        if recorded != now:
            return Decision(False, f"rowsUpdatedAt moved from {_show(recorded)} to {_show(now)}")
        if checked - recorded < overlap:
            return Decision(
                False,
                f"rowsUpdatedAt {_show(now)} was within {_minutes(overlap)} of the last read ({_show(checked)}): "
                f"read again",
            )
        if status not in ("succeeded", "partial") or not reported or error is not None or anomaly is not None:
            return Decision(False, f"its last read (run {run_id}) did not finish cleanly")
    return Decision(True, f"unchanged since {_show(now)} (rowsUpdatedAt): not read", now)


def _show(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _minutes(value: timedelta) -> str:
    return f"{value.total_seconds() / 60:g} min"
