"""Per-(dataset, partition) progress that moves only inside the transaction that commits the rows it covers.

`updated_at_mark` + `last_id` is the keyset position of the last committed page. A partition that finished
(`completed`) starts its next incremental read from its mark minus an overlap window, so a record updated while
the previous run was paging is read again (its unchanged content hash makes the re-read free).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from sentinel.ingest.socrata import Cursor


@dataclass(slots=True)
class Watermark:
    dataset: str
    partition: str
    updated_at_mark: datetime | None = None
    last_id: str | None = None
    rows_committed: int = 0
    completed: bool = False
    mode: str = "incremental"
    # A full-replace dataset's rowsUpdatedAt when this partition's read began, and when it was asked
    # (sentinel/ingest/source_version.py).
    source_rows_updated_at: datetime | None = None
    source_checked_at: datetime | None = None

    @property
    def incremental(self) -> bool:
        return self.mode == "incremental"


def load(conn: psycopg.Connection, dataset: str, partition: str, *, for_update: bool = False) -> Watermark | None:
    query = (
        "SELECT updated_at_mark, last_id, rows_committed, completed, mode, source_rows_updated_at, source_checked_at "
        "FROM watermarks WHERE dataset = %s AND partition = %s"
    )
    row = conn.execute(query + (" FOR UPDATE" if for_update else ""), (dataset, partition)).fetchone()
    if row is None:
        return None
    return Watermark(dataset, partition, *row)


def run_of(conn: psycopg.Connection, dataset: str, partition: str) -> int | None:
    """The ingestion run that last moved this partition's watermark."""
    row = conn.execute(
        "SELECT run_id FROM watermarks WHERE dataset = %s AND partition = %s", (dataset, partition)
    ).fetchone()
    return row[0] if row else None


def save(conn: psycopg.Connection, mark: Watermark, run_id: int | None) -> None:
    conn.execute(
        "INSERT INTO watermarks (dataset, partition, updated_at_mark, last_id, rows_committed, completed, mode,"
        " source_rows_updated_at, source_checked_at, run_id, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now()) "
        "ON CONFLICT (dataset, partition) DO UPDATE SET updated_at_mark = EXCLUDED.updated_at_mark,"
        " last_id = EXCLUDED.last_id, rows_committed = EXCLUDED.rows_committed, completed = EXCLUDED.completed,"
        " mode = EXCLUDED.mode, source_rows_updated_at = EXCLUDED.source_rows_updated_at,"
        " source_checked_at = EXCLUDED.source_checked_at, run_id = EXCLUDED.run_id, updated_at = now()",
        (mark.dataset, mark.partition, mark.updated_at_mark, mark.last_id, mark.rows_committed, mark.completed,
         mark.mode, mark.source_rows_updated_at, mark.source_checked_at, run_id),
    )  # fmt: skip


def to_socrata(value: datetime) -> str:
    """Socrata compares :updated_at (a fixed timestamp, UTC) to an ISO string with milliseconds."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


@dataclass(frozen=True, slots=True)
class ReadPlan:
    incremental: bool
    cursor: Cursor | None
    resumed: bool


def plan_read(mark: Watermark | None, *, incremental: bool, overlap: timedelta) -> ReadPlan:
    """How a partition's read starts: after its last committed page when interrupted (in the mode it was
    interrupted in), else from scratch (full, or no mark yet), else overlap before the last finished read."""
    if mark is not None and not mark.completed and (mark.last_id or mark.updated_at_mark):
        if mark.incremental and mark.updated_at_mark is not None:
            return ReadPlan(True, Cursor(updated_at=to_socrata(mark.updated_at_mark), row_id=mark.last_id), True)
        if mark.mode == "full":  # a partial read (partial_read.py) is never resumed, least of all as a whole one
            return ReadPlan(False, Cursor(row_id=mark.last_id) if mark.last_id else None, True)
    if not incremental or mark is None or mark.updated_at_mark is None:
        return ReadPlan(False, None, False)
    return ReadPlan(True, Cursor(updated_at=to_socrata(mark.updated_at_mark - overlap)), False)
