"""Merging a batch into PostgreSQL: its COPY text into a staging table, then one INSERT .. ON CONFLICT.

Re-ingesting the same data changes nothing (the update only fires when the content hash differs), a changed
record is updated in place, and a change of status is recorded in status_history in the same statement.
Everything a batch writes (rows, rejects, the partition's watermark) commits in one transaction.

A partition read for the first time brings rows that are new: those batches are COPYed straight into the table,
which costs PostgreSQL about a fifth less per row than staging plus the merge. If any key already exists the
COPY fails on it, is rolled back to its savepoint, and the batch takes the merge like any other, so the result
never depends on the guess.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import orjson
import psycopg
from psycopg import sql

from sentinel.datasets import load_datasets
from sentinel.ingest import live_counts
from sentinel.ingest.copy_batch import CopyBatch, CopyData
from sentinel.normalize import Reject
from sentinel.quality import merge_counts
from sentinel.records import ROW_TYPES
from sentinel.source_pages import store_page

# Tables whose rows carry a source status worth a history entry when it changes.
_HISTORY_KIND = {"violations": "violation", "complaints": "complaint"}
# Tables with a tombstone flag (a record that vanished from the source becomes one; PLUTO lots are replaced, not
# deleted), which a reappearing row resets; and those whose rows carry the run that last wrote
# them (`last_run_id`: what the alert engine and `rescore_changed` read a run's changes by).
TOMBSTONED = {"violations", "complaints", "registrations", "registration_contacts"}
RUN_TRACKED = {"violations", "complaints"}


@dataclass(slots=True)
class WriteStats:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0  # records the dataset deliberately does not keep (311 agencies we do not track)
    status_changes: int = 0
    copied_new: int = 0  # rows COPYed straight into their table (a first read), not through the merge
    duplicates: int = 0  # records whose key repeated within a page (the later state kept)
    revived: int = 0  # tombstoned records the source has again (counted in `updated`)
    by_table: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    quality: dict[tuple[str, str], int] = field(default_factory=dict)  # (field, reason) -> rows with it
    reject_reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: WriteStats) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected += other.rejected
        self.skipped += other.skipped
        self.status_changes += other.status_changes
        self.copied_new += other.copied_new
        self.duplicates += other.duplicates
        self.revived += other.revived
        merge_counts(self.quality, other.quality)
        for key, n in other.reject_reasons.items():
            self.reject_reasons[key] = self.reject_reasons.get(key, 0) + n
        for table, (ins, upd, same) in other.by_table.items():
            old = self.by_table.get(table, (0, 0, 0))
            self.by_table[table] = (old[0] + ins, old[1] + upd, old[2] + same)


def _target_table(dataset: str) -> str | None:
    config = load_datasets().get(dataset)
    return config.target_table if config is not None else None


@cache
def _staging_ddl(table: str, columns: tuple[str, ...]) -> sql.Composed:
    # Only the copied columns and none of the table's NOT NULLs (ids and defaults are the merge's to fill);
    # created once per connection, emptied after every merge.
    return sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} AS SELECT {} FROM {} WITH NO DATA").format(
        sql.Identifier(f"stage_{table}"), sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table)
    )


def _changed_sql(table: str, columns: tuple[str, ...], keys: tuple[str, ...], *, old: str, new: str) -> sql.Composable:
    """Whether row `new` (the incoming one) changes the stored row `old` of the same key: the merge's update
    condition, written for the conflict filter (`t`, `EXCLUDED`) and for skipping unchanged rows (`stored`, `s`)."""
    ident = sql.Identifier
    o, n = sql.SQL(old), sql.SQL(new)  # aliases, written as given (EXCLUDED must not be quoted)
    non_keys = [c for c in columns if c not in keys]
    if "content_hash" in columns:
        changed = sql.SQL("{o}.content_hash IS DISTINCT FROM {n}.content_hash").format(o=o, n=n)
    else:
        changed = sql.SQL("({}) IS DISTINCT FROM ({})").format(
            sql.SQL(", ").join(sql.SQL("{}.{}").format(o, ident(c)) for c in non_keys),
            sql.SQL(", ").join(sql.SQL("{}.{}").format(n, ident(c)) for c in non_keys),
        )
    if table in TOMBSTONED:
        changed = sql.SQL("{} OR {}.is_deleted").format(changed, o)
    if table == "complaints":
        # DOB complaints (eabe-havv) repeat a complaint_number once per disposition: a row read later but
        # dated earlier is an older state of the same complaint and must not overwrite the newer one. Without a date
        # on either side nothing says it is older (a bare `<` would be NULL and block every update of an undated row).
        older = sql.SQL("coalesce({n}.status_date < {o}.status_date, false)").format(o=o, n=n)
        changed = sql.SQL("({}) AND NOT ({}.source = 'DOB' AND {})").format(changed, o, older)
    return changed


@cache
def _drop_unchanged_sql(table: str, columns: tuple[str, ...], keys: tuple[str, ...]) -> sql.Composed:
    """Removes from the staging table the rows whose stored twin the merge's conflict filter would decline.

    Such a row must never reach ON CONFLICT: PostgreSQL locks a conflicting row before the filter declines it, and
    the lock writes the row's heap page (and WAL), which made a day of mostly unchanged re-published records cost
    a page write each; left in the stage, each would also be looked up again by the merge's `prior` read
    (benchmarks/RESULTS.md, "A day's unchanged records"). Decided in this statement's snapshot; one ingestion run
    holds the tables at a time (lifecycle's run lock), so none changes before the merge."""
    return sql.SQL(
        "DELETE FROM {stage} s WHERE EXISTS (SELECT 1 FROM {table} stored WHERE {match} AND NOT ({changed}))"
    ).format(
        stage=sql.Identifier(f"stage_{table}"),
        table=sql.Identifier(table),
        match=sql.SQL(" AND ").join(sql.SQL("stored.{c} = s.{c}").format(c=sql.Identifier(k)) for k in keys),
        changed=_changed_sql(table, columns, keys, old="stored", new="s"),
    )


@cache
def _merge_sql(table: str, columns: tuple[str, ...], keys: tuple[str, ...]) -> sql.Composed:
    ident = sql.Identifier
    stage = ident(f"stage_{table}")
    cols = sql.SQL(", ").join(map(ident, columns))
    non_keys = [c for c in columns if c not in keys]
    assignments = [sql.SQL("{} = EXCLUDED.{}").format(ident(c), ident(c)) for c in non_keys]
    assignments.append(sql.SQL("updated_at = now()"))
    if "source_page" in columns:
        # A row written before its record was kept in a page (migration 0033) drops its own copy when it changes.
        assignments += [sql.SQL("raw = NULL"), sql.SQL("raw_packed = NULL")]
    if table in TOMBSTONED:
        assignments += [sql.SQL("is_deleted = false"), sql.SQL("deleted_at = NULL")]
    if table in RUN_TRACKED:
        assignments.append(sql.SQL("last_run_id = %(run_id)s"))
    changed = _changed_sql(table, columns, keys, old="t", new="EXCLUDED")
    key_list = sql.SQL(", ").join(map(ident, keys))
    insert_cols, insert_vals = cols, cols
    if table in RUN_TRACKED:
        insert_cols = sql.SQL("{}, last_run_id").format(cols)
        insert_vals = sql.SQL("{}, %(run_id)s").format(cols)
    upsert = sql.SQL(
        "INSERT INTO {table} AS t ({insert_cols}) SELECT {insert_vals} FROM {stage} "
        "ON CONFLICT ({keys}) DO UPDATE SET {assignments} WHERE {changed} "
    ).format(
        table=ident(table),
        insert_cols=insert_cols,
        insert_vals=insert_vals,
        stage=stage,
        keys=key_list,
        assignments=sql.SQL(", ").join(assignments),
        changed=changed,
    )
    kind = _HISTORY_KIND.get(table)
    if kind is None:
        if table not in TOMBSTONED:
            return sql.SQL(
                "WITH merged AS ({upsert} RETURNING (xmax = 0) AS inserted) "
                "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), 0, 0 FROM merged"
            ).format(upsert=upsert)
        # `tombstoned` reads the snapshot from before the upsert: every CTE of one statement sees the same one.
        return sql.SQL(
            "WITH tombstoned AS (SELECT {keys} FROM {table} t JOIN {stage} s USING ({keys}) WHERE t.is_deleted), "
            "merged AS ({upsert} RETURNING {keys}, (xmax = 0) AS inserted) "
            "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), 0,"
            " (SELECT count(*) FROM merged m JOIN tombstoned d USING ({keys}) WHERE NOT m.inserted) FROM merged"
        ).format(keys=key_list, table=ident(table), stage=stage, upsert=upsert)
    # `prior` reads the snapshot from before the upsert: every CTE of one statement sees the same snapshot.
    return sql.SQL(
        "WITH prior AS ("
        "  SELECT t.id, t.status, t.status_raw, t.is_deleted FROM {table} t JOIN {stage} s USING (source, source_id)"
        "), merged AS ({upsert} RETURNING t.id, t.source, t.source_id, t.status, t.status_raw, t.status_date,"
        "  (xmax = 0) AS inserted"
        "), history AS ("
        "  INSERT INTO status_history (record_kind, record_id, source, source_id, old_status, new_status,"
        "    old_status_raw, new_status_raw, changed_on, run_id)"
        "  SELECT {kind}, m.id, m.source, m.source_id, p.status, m.status, p.status_raw, m.status_raw,"
        "    m.status_date, %(run_id)s"
        "  FROM merged m JOIN prior p ON p.id = m.id"
        "  WHERE NOT m.inserted AND (p.status IS DISTINCT FROM m.status OR p.status_raw IS DISTINCT FROM m.status_raw)"
        "  RETURNING 1"
        ") SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),"
        "  (SELECT count(*) FROM history),"
        "  (SELECT count(*) FROM merged m JOIN prior p ON p.id = m.id WHERE NOT m.inserted AND p.is_deleted)"
        " FROM merged"
    ).format(table=ident(table), stage=stage, upsert=upsert, kind=sql.Literal(kind))


def merge_copy(
    conn: psycopg.Connection, table: str, copy_data: CopyData, run_id: int | None, *, expect_new: bool = False
) -> WriteStats:
    """COPY the rows into the table's staging table and merge them; the caller owns the transaction.

    With `expect_new`, first try a COPY straight into the table (see the module docstring). The rows' page of
    source records is kept when at least one of them was written: a page of unchanged rows has no row pointing
    into it."""
    if not copy_data.rows:
        return WriteStats()
    stats = _write_rows(conn, table, copy_data, run_id, expect_new)
    if copy_data.page is not None and stats.inserted + stats.updated:
        store_page(conn, copy_data.page)
    return stats


def _write_rows(
    conn: psycopg.Connection, table: str, copy_data: CopyData, run_id: int | None, expect_new: bool
) -> WriteStats:
    row_type = ROW_TYPES[table]
    columns, keys = row_type.columns, row_type.key_columns
    if expect_new and _copy_new_rows(conn, table, columns, copy_data, run_id):
        rows = copy_data.rows
        return WriteStats(inserted=rows, copied_new=rows, by_table={table: (rows, 0, 0)})
    with conn.cursor() as cur:
        # The staging table has no statistics, so the merge's estimated cost always crosses jit_above_cost, and
        # compiling it is paid for nothing: the merge is index lookups (benchmarks/RESULTS.md, "Ingestion").
        cur.execute("SET LOCAL jit = off")
        cur.execute(_staging_ddl(table, columns))
        _copy(cur, f"stage_{table}", columns, copy_data.data)
        cur.execute(_drop_unchanged_sql(table, columns, keys))
        if cur.rowcount == copy_data.rows:  # every row unchanged: nothing to merge
            inserted = updated = history = revived = 0
        else:
            cur.execute(_merge_sql(table, columns, keys), {"run_id": run_id})
            inserted, updated, history, revived = cur.fetchone()  # type: ignore[misc]
        cur.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(f"stage_{table}")))
    unchanged = copy_data.rows - inserted - updated
    return WriteStats(
        inserted=inserted,
        updated=updated,
        unchanged=unchanged,
        status_changes=history,
        revived=revived,
        by_table={table: (inserted, updated, unchanged)},
    )


def _copy_new_rows(
    conn: psycopg.Connection, table: str, columns: tuple[str, ...], copy_data: CopyData, run_id: int | None
) -> bool:
    """COPYs rows that should all be new into the table itself; False (and nothing written) if a key exists."""
    data = copy_data.data
    targets = list(columns)
    if table in RUN_TRACKED and run_id is not None:
        # COPY text escapes newlines inside values, so every b"\n" ends a line: append the run id to each.
        data = data.replace(b"\n", b"\t%d\n" % run_id)
        targets.append("last_run_id")
    try:
        with conn.transaction(), conn.cursor() as cur:
            _copy(cur, table, targets, data)
    except psycopg.errors.UniqueViolation:
        return False
    return True


def _copy(cur: psycopg.Cursor, table: str, columns: Sequence[str], data: bytes) -> None:
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with cur.copy(copy_sql) as copy:
        copy.write(data)


def insert_rejects(conn: psycopg.Connection, rejects: Sequence[Reject], run_id: int | None) -> int:
    """Records rejects once per (dataset, raw record); seeing one again only refreshes `last_seen_at`."""
    if not rejects:
        return 0
    rows = []
    for reject in rejects:
        raw = orjson.dumps(reject.raw, option=orjson.OPT_SORT_KEYS)
        rows.append(
            (
                run_id,
                reject.dataset,
                reject.source_key,
                reject.reason,
                raw.decode(),
                hashlib.md5(raw, usedforsecurity=False).hexdigest(),
            )
        )
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO rejects (run_id, dataset, source_key, reason, raw, raw_hash) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (dataset, raw_hash) DO UPDATE SET last_seen_at = now()",
            rows,
        )
    return len(rejects)


def write_batch(
    conn: psycopg.Connection, batch: CopyBatch, run_id: int | None = None, *, expect_new: bool = False
) -> WriteStats:
    """Merges every table of the batch and records its rejects; the caller commits (with its watermark).

    inserted / updated / unchanged count the dataset's own records (its target table), which is what `fetched`
    compares with; rows a record also writes elsewhere (the building a registration describes) are in `by_table`.
    Summing every table made a registrations run show twice as many inserted as fetched."""
    stats = WriteStats()
    own = _target_table(batch.dataset)
    for table, copy_data in batch.tables.items():
        merged = merge_copy(conn, table, copy_data, run_id, expect_new=expect_new)
        if own is not None and table != own:
            merged = WriteStats(by_table=merged.by_table, copied_new=merged.copied_new)
        stats.add(merged)
    if own in TOMBSTONED:
        live_counts.add(conn, batch.dataset, stats.inserted + stats.revived)
    stats.rejected = insert_rejects(conn, batch.rejects, run_id)
    stats.skipped = batch.skipped
    stats.duplicates = batch.duplicates
    stats.quality = dict(batch.quality)
    stats.reject_reasons = dict(batch.reject_reasons)
    return stats
