"""Per-(dataset, partition) progress that moves only inside the transaction that commits the rows it covers.

`updated_at_mark` + `last_id` is the keyset position of the last committed page. A partition that finished
(`completed`) starts its next incremental read an overlap window before its last read began, or at its mark when
that is older: a record that became visible late, stamped with a time the read had already passed, is stamped
within the window (the source's lag and the clocks' difference) before the moment it was read. So a daily batch
(rows a publisher stamps within minutes of each other, hours before the next read) is not read twice: a re-read
costs the fetch, the normalizing and the database's index probe and heap visit a row to find it unchanged.
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
    # When this read was planned (a resumed read keeps its first run's): the next read starts `overlap` before it.
    read_started_at: datetime | None = None

    @property
    def incremental(self) -> bool:
        return self.mode == "incremental"


def load(conn: psycopg.Connection, dataset: str, partition: str, *, for_update: bool = False) -> Watermark | None:
    query = (
        "SELECT updated_at_mark, last_id, rows_committed, completed, mode, source_rows_updated_at, source_checked_at,"
        " read_started_at FROM watermarks WHERE dataset = %s AND partition = %s"
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
        " source_rows_updated_at, source_checked_at, read_started_at, run_id, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now()) "
        "ON CONFLICT (dataset, partition) DO UPDATE SET updated_at_mark = EXCLUDED.updated_at_mark,"
        " last_id = EXCLUDED.last_id, rows_committed = EXCLUDED.rows_committed, completed = EXCLUDED.completed,"
        " mode = EXCLUDED.mode, source_rows_updated_at = EXCLUDED.source_rows_updated_at,"
        " source_checked_at = EXCLUDED.source_checked_at, read_started_at = EXCLUDED.read_started_at,"
        " run_id = EXCLUDED.run_id, updated_at = now()",
        (mark.dataset, mark.partition, mark.updated_at_mark, mark.last_id, mark.rows_committed, mark.completed,
         mark.mode, mark.source_rows_updated_at, mark.source_checked_at, mark.read_started_at, run_id),
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
    interrupted in), else from scratch (full, or no mark yet), else `overlap` before the last finished read began
    or at its mark, whichever is earlier (`overlap` before the mark when the read's start is not known)."""
    if mark is not None and not mark.completed and (mark.last_id or mark.updated_at_mark):
        if mark.incremental and mark.updated_at_mark is not None:
            return ReadPlan(True, Cursor(updated_at=to_socrata(mark.updated_at_mark), row_id=mark.last_id), True)
        if mark.mode == "full":  # a partial read (partial_read.py) is never resumed, least of all as a whole one
            return ReadPlan(False, Cursor(row_id=mark.last_id) if mark.last_id else None, True)
    if not incremental or mark is None or mark.updated_at_mark is None:
        return ReadPlan(False, None, False)
    start = mark.updated_at_mark - overlap
    if mark.read_started_at is not None:
        start = min(mark.updated_at_mark, mark.read_started_at - overlap)
    return ReadPlan(True, Cursor(updated_at=to_socrata(start)), False)
