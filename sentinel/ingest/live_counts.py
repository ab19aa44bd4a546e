"""Each dataset's live (not tombstoned) records, kept rather than counted.

Reconcile asks after every read whether the source still has every record we hold live: the source's row count
against our live records plus the rejected keys. Counting our records for that is a scan of the dataset's keys,
each day, in proportion to the city (benchmarks/RESULTS.md, "A day's last statements that grew with the city"). So the
count is taken exactly once (`store`) and then kept: the writer adds the records it inserts and the tombstones it
revives, reconcile subtracts the ones it tombstones, each in the transaction that writes them (`add`). A dataset
read whole is counted exactly again, and so is one whose kept count disagrees with the source, before any key is
compared: a kept count that went wrong costs a count, never a record.
"""

from __future__ import annotations

import psycopg


def kept(conn: psycopg.Connection, dataset: str) -> int | None:
    """The dataset's kept live count; None before it was first counted."""
    row = conn.execute("SELECT live FROM live_counts WHERE dataset = %s", (dataset,)).fetchone()
    return None if row is None else int(row[0])


def store(conn: psycopg.Connection, dataset: str, live: int) -> None:
    """An exact count, taken while no run writes the dataset (reconcile, after the dataset's last page)."""
    conn.execute(
        "INSERT INTO live_counts (dataset, live) VALUES (%s, %s)"
        " ON CONFLICT (dataset) DO UPDATE SET live = EXCLUDED.live, counted_at = now()",
        (dataset, live),
    )


def add(conn: psycopg.Connection, dataset: str, delta: int) -> None:
    """Records that became live (or, negative, tombstones) in the caller's transaction; nothing before the first
    count, which will count them."""
    if delta:
        conn.execute("UPDATE live_counts SET live = live + %s WHERE dataset = %s", (delta, dataset))
