"""The replay server's indexed SQLite store: one table per dataset, built from the files in a data directory.

Each row keeps its API JSON text (`__doc`, without system fields), so a `SELECT *` page is a string join. The
field columns are VIRTUAL generated columns over `__doc` (`json_extract`), so filters and ordering run in SQLite
on named, typed columns and the indexes that need them, while each row's values are stored once (a stored text
column per field beside the JSON doubled the store: benchmarks/RESULTS.md, "A leaner replay store"). Memory
stays flat: files are streamed in batches and SQLite's page cache is bounded.
"""

# SQL is built from quoted identifiers (quote_ident) and escaped literals (sql_str) or bound parameters.
# ruff: noqa: S608

from __future__ import annotations

import csv
import hashlib
import logging
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from citysim.replay.formats import ZSTD_SUFFIX, DataFileError, Row, dataset_file_suffix, read_dataset_file
from citysim.replay.schemas import SYSTEM_FIELDS, schema_for
from citysim.replay.soql import comparable, sql_str

log = logging.getLogger(__name__)

_BATCH = 5000
STRIP_BATCH_ROWS = 200_000  # rows stripped per transaction: bounds the WAL to about this many rows' pages
BUILD_COMMIT_ROWS = 500_000  # rows a transaction of a store's build: bounds its WAL to about this many rows
UPSERT_COMMIT_ROWS = 20_000  # change rows a transaction: bounds the WAL to about this many (mostly scattered) pages
_AUTO_VACUUM_INCREMENTAL = 2  # `PRAGMA auto_vacuum`'s answer for INCREMENTAL
VACUUM_STEP_PAGES = 8192  # pages an incremental_vacuum step moves and frees: bounds the WAL between checkpoints
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_SYSTEM_SQL = {":id": "__id", ":created_at": "__created_at", ":updated_at": "__updated_at"}
CACHE_NAME = ".replay-cache.sqlite"


def utc_timestamp(dt: datetime | None = None) -> str:
    """A fixed_timestamp the way Socrata writes system fields: `2025-03-03T14:15:14.576Z`."""
    dt = (dt or datetime.now(UTC)).astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def epoch_seconds(ts: str | None) -> int:
    """A system-field timestamp as the whole epoch seconds the metadata API gives (`rowsUpdatedAt`); 0 for none."""
    if not ts:
        return 0
    return int(datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp())


_ID_PAIRS = [a + b for a in _ID_ALPHABET for b in _ID_ALPHABET]  # two base-36 digits: every id of a load is formatted


def _format_row_id(n: int) -> str:
    """The 12 low base-36 digits of `n` as `row-xxxx.xxxx~xxxx`."""
    n, p6 = divmod(n, 1296)
    n, p5 = divmod(n, 1296)
    n, p4 = divmod(n, 1296)
    n, p3 = divmod(n, 1296)
    n, p2 = divmod(n, 1296)
    p1 = n % 1296
    pairs = _ID_PAIRS
    return f"row-{pairs[p1]}{pairs[p2]}.{pairs[p3]}{pairs[p4]}~{pairs[p5]}{pairs[p6]}"


def make_row_id(seed: str) -> str:
    """A Socrata-looking row id (`row-pux7.2d9r~s2k7`), stable for a given seed."""
    return _format_row_id(int.from_bytes(hashlib.blake2b(seed.encode(), digest_size=8).digest(), "big"))


def sequential_row_ids(seed: str) -> Iterator[str]:
    """Row ids for a bulk load: consecutive numbers in the ids' alphabet (a-z for 0-25, then 0-9), so their string
    order follows the load order in runs of 26 and 10 consecutive rows, not row by row.

    Paging by `$order=:id` then reads the table in runs instead of jumping around it, which is what makes
    deep keyset paging of millions of rows fast. The start is random per load so ids still look like Socrata's.
    """
    start = int.from_bytes(hashlib.blake2b(seed.encode(), digest_size=8).digest(), "big") % (36**12 // 2)
    n = start
    while True:
        yield _format_row_id(n)
        n += 1


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def column_sql(field_name: str) -> str:
    return _SYSTEM_SQL.get(field_name) or quote_ident(field_name)


def _cell(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


@dataclass
class Table:
    """What the query layer needs to know about one dataset's table."""

    dataset_id: str
    name: str
    columns: list[tuple[str, str]]  # (field, Socrata type) in API order
    json_columns: set[str] = field(default_factory=set)  # fields whose values are JSON objects/booleans
    added_columns: set[str] = field(default_factory=set)  # fields the rows brought that the schema does not list

    @property
    def types(self) -> dict[str, str]:
        t = dict(self.columns)
        t.update(SYSTEM_FIELDS)
        return t

    @property
    def fields(self) -> list[str]:
        return [f for f, _ in self.columns]


class ReplayStore:
    """A SQLite database of datasets; safe to read from many threads, writes serialized by a lock."""

    def __init__(self, db_path: Path, *, owns_file: bool = False):
        self.db_path = Path(db_path)
        self._owns_file = owns_file
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._conn_lock = threading.Lock()
        self.write_lock = threading.RLock()
        # Files left out of the store, with why (name, line, problem): reported by the CLI and the server log.
        self.load_errors: list[str] = []
        with self.write_lock:
            c = self.connection()
            # Before the first table (a no-op on an existing file): API rows of about a kilobyte fill 4 KB pages
            # badly, few rows to a page (benchmarks/RESULTS.md, "A leaner replay store").
            c.execute("PRAGMA page_size = 16384")
            # Also before the first table: a dataset's pages freed (strip_rows) can be given back a step at a
            # time, where a VACUUM copies the whole file.
            c.execute("PRAGMA auto_vacuum = INCREMENTAL")
            c.execute("PRAGMA journal_mode=WAL")
            _create_meta(c)
        self.tables: dict[str, Table] = self._load_tables()

    # --- connections ---

    def connection(self, *, raw: bool = False) -> sqlite3.Connection:
        """This thread's connection; `raw=True` returns text as UTF-8 bytes (stored row JSON goes straight out)."""
        attr = "raw_conn" if raw else "conn"
        conn = getattr(self._local, attr, None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA case_sensitive_like = ON")  # SoQL LIKE is case-sensitive on SODA 2.1
            conn.execute("PRAGMA cache_size = -32000")
            # Debian's SQLite zeroes every page it frees (secure_delete on by default): a dropped table was
            # written out once more, through the WAL. The store holds public data only.
            conn.execute("PRAGMA secure_delete = OFF")
            if raw:
                conn.text_factory = bytes
            setattr(self._local, attr, conn)
            with self._conn_lock:
                self._connections.append(conn)
        return conn

    def dataset_connection(self, dataset_id: str, *, raw: bool = False) -> sqlite3.Connection:
        """The connection that reads a dataset's table: this thread's (every dataset is in this one file)."""
        return self.connection(raw=raw)

    def close_thread_connections(self) -> None:
        """Closes this thread's connections (a server thread's, as it ends); the next use opens new ones."""
        for attr in ("conn", "raw_conn"):
            conn = getattr(self._local, attr, None)
            if conn is not None:
                with self._conn_lock:
                    if conn not in self._connections:
                        continue  # close() took them all already
                    self._connections.remove(conn)
                conn.close()
                delattr(self._local, attr)

    def close(self) -> None:
        self._close_connections()
        if self._owns_file:
            remove_database(self.db_path)

    def _close_connections(self) -> None:
        """Closes every thread's connections; the next use opens new ones."""
        with self._conn_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    def reload_tables(self) -> None:
        """Reads the datasets' tables again, after another process loaded one into the same file."""
        with self.write_lock:
            self.tables = self._load_tables()

    def _load_tables(self) -> dict[str, Table]:
        rows = self.connection().execute("SELECT id, tbl, columns, json_columns FROM _datasets").fetchall()
        return {
            ds: Table(ds, tbl, [tuple(c) for c in orjson.loads(cols)], set(orjson.loads(jcols)))
            for ds, tbl, cols, jcols in rows
        }

    def get_meta(self, key: str) -> str | None:
        row = self.connection().execute("SELECT v FROM _meta WHERE k = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.write_lock:
            self.connection().execute("INSERT OR REPLACE INTO _meta (k, v) VALUES (?, ?)", (key, value))

    # --- loading ---

    def load_dataset(
        self, dataset_id: str, rows: Iterable[Row], *, seed: str, timestamp: str, commit_rows: int | None = None
    ) -> int:
        """Create (or recreate) a dataset's table from rows; returns the row count.

        One transaction, or with `commit_rows` one every that many rows, each checkpointed: a transaction's pages
        stay in the WAL until it commits, so one over a whole dataset took its size twice on disk at the
        checkpoint. Readers then see a table filling up: for a store nobody reads yet (a build) or a dataset
        read only after its load. Either way a load that fails drops the table."""
        with self.write_lock:
            conn = self.connection()
            # The schema's field columns come after the rows: SQLite computes a row's generated columns as it
            # inserts it, even VIRTUAL ones, which made the insert most of a load's cost (benchmarks/RESULTS.md,
            # "Building the replay store"). Columns the rows bring that the schema lacks are added as they come.
            table = self._create_table(conn, dataset_id)
            try:
                n = self._insert_rows(conn, table, rows, seed=seed, timestamp=timestamp, commit_rows=commit_rows)
            except BaseException:
                self._drop_table(conn, dataset_id)
                raise
            self._add_schema_columns(conn, table)
            self._drop_renamed_columns(conn, table)
            self._index_table(conn, table)
            _give_back_wal(conn)
            return n

    def _drop_table(self, conn: sqlite3.Connection, dataset_id: str) -> None:
        table = self.tables.pop(dataset_id, None)
        if table is not None:
            conn.execute(f"DROP TABLE IF EXISTS {quote_ident(table.name)}")
            conn.execute("DELETE FROM _datasets WHERE id = ?", (dataset_id,))

    def _create_table(self, conn: sqlite3.Connection, dataset_id: str) -> Table:
        """A dataset's table without its schema's field columns (`_add_schema_columns` adds them)."""
        schema = schema_for(dataset_id)
        old = self.tables.get(dataset_id)
        name = old.name if old else f"ds_{len(self.tables)}_{dataset_id.replace('-', '_')}"
        conn.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")
        cols = [(c.field, c.type) for c in schema.columns]
        conn.execute(
            f"CREATE TABLE {quote_ident(name)} (__rid INTEGER PRIMARY KEY, __id TEXT NOT NULL, "
            "__created_at TEXT NOT NULL, __updated_at TEXT NOT NULL, __key TEXT, __doc TEXT NOT NULL)"
        )
        table = Table(dataset_id, name, cols, _schema_json_columns(cols))
        self.tables[dataset_id] = table
        self._save_table(conn, table)
        return table

    def _add_schema_columns(self, conn: sqlite3.Connection, table: Table) -> None:
        """The schema's field columns of a table created without them (VIRTUAL columns, so adding one is a change
        of the schema alone, whatever the rows)."""
        json_cols = _schema_json_columns(table.columns)
        for f, _ in table.columns:
            if f not in table.added_columns:
                conn.execute(f"ALTER TABLE {quote_ident(table.name)} ADD COLUMN {_field_column(f, f in json_cols)}")

    def _save_table(self, conn: sqlite3.Connection, table: Table) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO _datasets (id, tbl, columns, json_columns) VALUES (?, ?, ?, ?)",
            (
                table.dataset_id,
                table.name,
                orjson.dumps(table.columns).decode(),
                orjson.dumps(sorted(table.json_columns)).decode(),
            ),
        )

    def _add_columns(self, conn: sqlite3.Connection, table: Table, rows: list[Row]) -> None:
        # Columns the schema does not list (schema drift, or a dataset without a schema) are added as text.
        known = set(table.fields)
        folded = {f.lower(): f for f in known}
        plain = known | SYSTEM_FIELDS.keys()
        for row in rows:
            # Most rows bring only known fields, with text values or values of fields already known to hold JSON:
            # set tests and the values' types settle it.
            if row.keys() <= plain:
                values = map(row.__getitem__, row.keys() - table.json_columns)
                if _TEXT_TYPES.issuperset(map(type, values)):
                    continue
            for k, v in row.items():
                if k not in known and k not in SYSTEM_FIELDS:
                    if k.lower() in folded:
                        # SQLite column names ignore case: "BBL" beside "bbl" is one column. The key stays in the
                        # row's JSON as sent; the column (what queries see) is the first spelling's.
                        continue
                    # Its values' JSON type is not known from one row: booleans are kept as text either way.
                    conn.execute(f"ALTER TABLE {quote_ident(table.name)} ADD COLUMN {_field_column(k, True)}")
                    table.columns.append((k, "text"))
                    known.add(k)
                    plain.add(k)
                    folded[k.lower()] = k
                    table.added_columns.add(k)
                if not isinstance(v, str) and v is not None:
                    table.json_columns.add(k)
        self._save_table(conn, table)

    def _drop_renamed_columns(self, conn: sqlite3.Connection, table: Table) -> None:
        """Schema columns no row has, in a table whose rows brought columns the schema does not know, were
        renamed: querying them is Socrata's 400 no-such-column, not an empty answer."""
        if not table.added_columns:
            return
        schema_fields = [f for f in table.fields if f not in table.added_columns]
        if not schema_fields:
            return
        counts = conn.execute(
            "SELECT "
            + ", ".join(f"count({quote_ident(f)})" for f in schema_fields)
            + f" FROM {quote_ident(table.name)}"
        ).fetchone()
        if not any(counts):
            return  # no rows at all: nothing says what the columns are
        gone = {f for f, n in zip(schema_fields, counts, strict=True) if n == 0}
        if gone:
            table.columns = [(f, t) for f, t in table.columns if f not in gone]
            self._save_table(conn, table)

    def _insert_rows(
        self,
        conn: sqlite3.Connection,
        table: Table,
        rows: Iterable[Row],
        *,
        seed: str,
        timestamp: str,
        commit_rows: int | None,
    ) -> int:
        key = schema_for(table.dataset_id).key
        ids = sequential_row_ids(f"{table.dataset_id}|{seed}")
        n = committed = 0
        conn.execute("BEGIN")
        try:
            for batch in _batches(rows, min(_BATCH, commit_rows or _BATCH)):
                self._add_columns(conn, table, batch)
                sql = (
                    f"INSERT INTO {quote_ident(table.name)} (__id, __created_at, __updated_at, __key, __doc)"
                    " VALUES (?, ?, ?, ?, ?)"
                )
                values = []
                for row in batch:
                    data = _api_fields(row)
                    values.append(
                        (
                            row.get(":id") or next(ids),
                            row.get(":created_at") or timestamp,
                            row.get(":updated_at") or timestamp,
                            _cell(data.get(key)),
                            orjson.dumps(data).decode(),
                        )
                    )
                conn.executemany(sql, values)
                n += len(batch)
                if commit_rows and n - committed >= commit_rows:
                    conn.execute("COMMIT")
                    _give_back_wal(conn)
                    conn.execute("BEGIN")
                    committed = n
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return n

    def _index_table(self, conn: sqlite3.Connection, table: Table) -> None:
        t = quote_ident(table.name)
        base = table.name
        conn.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {quote_ident(base + '_id')} ON {t} (__id)")
        conn.execute(f"CREATE INDEX IF NOT EXISTS {quote_ident(base + '_key')} ON {t} (__key)")
        conn.execute(f"CREATE INDEX IF NOT EXISTS {quote_ident(base + '_upd')} ON {t} (__updated_at, __id)")
        # Clients page one borough at a time (`boroid = 2 AND :id > ...  ORDER BY :id`): without an index on the
        # column as compared, then :id, each page scanned the rows of every other borough too.
        # An incremental read of one borough (`boroid = 2 AND :updated_at > ... ORDER BY :updated_at, :id`) walked
        # the :updated_at index through every borough's changes, reading each row's borough out of its JSON.
        types = dict(table.columns)
        schema = schema_for(table.dataset_id)
        wanted = [(name, "__id", "") for name in schema.indexed]
        wanted += [(name, "__updated_at, __id", "_upd") for name in schema.indexed_by_update]
        for name, then, suffix in wanted:
            if name not in types:  # a file without the column: nothing to index
                continue
            expr = comparable(column_sql(name), types[name])
            index = quote_ident(f"{base}_by_{name}{suffix}")
            conn.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {t} ({expr}, {then})")
        conn.execute(f"ANALYZE {t}")

    # --- changes ---

    def rows_updated_at(self, dataset_id: str) -> str | None:
        t = quote_ident(self.tables[dataset_id].name)
        return self.connection().execute(f"SELECT max(__updated_at) FROM {t}").fetchone()[0]

    def rows_updated_epoch(self, dataset_id: str) -> int:
        """`rowsUpdatedAt` of the metadata API: when the dataset's rows last changed, in epoch seconds. The newest
        row's `:updated_at` for a snapshot; after a publish, the time `mark_published` set (a deletion leaves no
        row to carry it, and two publishes within one second would otherwise look like one)."""
        published = self.get_meta(f"rows_updated_at:{dataset_id}")
        return max(int(published or 0), epoch_seconds(self.rows_updated_at(dataset_id)))

    def mark_published(self, dataset_id: str, at: str, before: int) -> int:
        """Moves the dataset's `rowsUpdatedAt` for a publish at `at`: to `at`, or one second past its value
        `before` the publish when `at` is not later. The portal's value also has a resolution of a second, but
        there two publishes within one share it; here every publish moves it, so a test can tell them apart (the
        ingester does not rely on it: sentinel/ingest/source_version.py)."""
        with self.write_lock:
            value = max(epoch_seconds(at), before + 1)
            self.set_meta(f"rows_updated_at:{dataset_id}", str(value))
            return value

    def next_timestamp(self, dataset_id: str, at: str | None = None) -> str:
        """A change timestamp strictly after everything already stored, so watermarks always move forward."""
        ts = at or utc_timestamp()
        last = self.rows_updated_at(dataset_id)
        if last and ts <= last:
            dt = datetime.strptime(last, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            ts = utc_timestamp(datetime.fromtimestamp(dt.timestamp() + 0.001, UTC))
        return ts

    def upsert(
        self,
        dataset_id: str,
        rows: Sequence[Row],
        at: str,
        *,
        mode: str = "upsert",
        commit_rows: int = UPSERT_COMMIT_ROWS,
        first_index: int = 0,
    ) -> dict[str, int]:
        """Insert new rows and merge updates into existing ones by natural key (`None` clears a field).
        `first_index`: the first row's position in its publish, when a publish comes in several calls (a new row's
        `:id` is drawn from its position, so the calls give the ids one call would).

        Checked whole first (every row's key; with `mode` insert or update, whether it exists), so a bad change
        writes nothing; then written `commit_rows` a transaction, each checkpointed: an update rewrites a page of
        its own more often than not, and one transaction over a day of the city's 311 changes held all their pages
        in the WAL at once and filled the disk (benchmarks/RESULTS.md, "The whole city at full size, end to end")."""
        table = self.ensure_table(dataset_id)
        t = quote_ident(table.name)
        counts = {"inserted": 0, "updated": 0}
        with self.write_lock:
            conn = self.connection()
            self._add_columns(conn, table, list(rows))
            keys = self._checked_keys(conn, table, rows, mode)
            for first in range(0, len(rows), commit_rows):
                with _transaction(conn):
                    for i in range(first, min(first + commit_rows, len(rows))):
                        row, k = rows[i], keys[i]
                        found = conn.execute(f"SELECT __rid, __doc FROM {t} WHERE __key = ?", (k,)).fetchall()
                        if found:
                            for rid, doc in found:
                                stored = orjson.loads(doc)
                                # A change that carries every stored field is the row as sent, in its field order
                                # (a stripped row's few fields would otherwise come first, and the order is part of
                                # the record a client keeps); a partial one is merged into the stored row.
                                merged = dict(row) if stored.keys() <= row.keys() else {**stored, **row}
                                self._write_row(conn, table, merged, rid=rid, at=at)
                            counts["updated"] += len(found)
                        else:
                            self._write_row(conn, table, dict(row), rid=None, at=at, seed=f"{at}|{k}|{first_index + i}")
                            counts["inserted"] += 1
                _give_back_wal(conn)
        return counts

    def _checked_keys(self, conn: sqlite3.Connection, table: Table, rows: Sequence[Row], mode: str) -> list[str]:
        """Each change row's natural key, or a ValueError naming the first row that cannot be applied."""
        dataset_id = table.dataset_id
        key = schema_for(dataset_id).key
        t = quote_ident(table.name)
        keys: list[str] = []
        seen: set[str] = set()
        for i, row in enumerate(rows):
            k = _cell(row.get(key))
            if k is None:
                raise ValueError(f"{dataset_id}: change row {i} has no natural key {key!r}")
            if mode in ("insert", "update"):
                exists = k in seen or conn.execute(f"SELECT 1 FROM {t} WHERE __key = ?", (k,)).fetchone() is not None
                if exists and mode == "insert":
                    raise ValueError(f"{dataset_id}: insert of existing {key}={k}")
                if not exists and mode == "update":
                    raise ValueError(f"{dataset_id}: update of missing {key}={k}")
                seen.add(k)
            keys.append(k)
        return keys

    def _write_row(
        self, conn: sqlite3.Connection, table: Table, row: Row, *, rid: int | None, at: str, seed: str = ""
    ) -> None:
        data = _api_fields(row)
        key = schema_for(table.dataset_id).key
        t = quote_ident(table.name)
        if rid is None:
            row_id = make_row_id(f"{table.dataset_id}|new|{seed}")
            while conn.execute(f"SELECT 1 FROM {t} WHERE __id = ?", (row_id,)).fetchone():
                row_id = make_row_id(row_id)  # a collision with an existing id: rehash
            conn.execute(
                f"INSERT INTO {t} (__id, __created_at, __updated_at, __key, __doc) VALUES (?, ?, ?, ?, ?)",
                (row_id, at, at, _cell(data.get(key)), orjson.dumps(data).decode()),
            )
        else:
            # The row moves to the table's end (a new __rid), beside the rest of its publish: a day's changed rows
            # are then read from a few contiguous pages, where in place they were scattered over nearly every page
            # of the table, which a day's reads then pulled from disk whole (benchmarks/RESULTS.md, "The
            # stand-in's day reads").
            conn.execute(
                f"UPDATE {t} SET __rid = (SELECT max(__rid) + 1 FROM {t}), __updated_at = ?, __key = ?, __doc = ?"
                " WHERE __rid = ?",
                (at, _cell(data.get(key)), orjson.dumps(data).decode(), rid),
            )

    def delete(self, dataset_id: str, keys: Sequence[str]) -> int:
        table = self.tables[dataset_id]
        with self.write_lock:
            conn = self.connection()
            cur = conn.executemany(
                f"DELETE FROM {quote_ident(table.name)} WHERE __key = ?",
                [(str(k),) for k in keys],
            )
            return cur.rowcount

    def replace(self, dataset_id: str, rows: Iterable[Row], at: str) -> int:
        """A publisher's full replace: every row gets new :id, :created_at and :updated_at.

        In one transaction, so readers see the old rows or the new ones; in a file that holds this dataset alone,
        the new rows go into a new file, committed in parts, that then takes this one's place (one transaction
        held the whole dataset in the WAL)."""
        rows = map(_api_fields, rows)
        if set(self.tables) != {dataset_id}:
            return self.load_dataset(dataset_id, rows, seed=f"replace|{at}", timestamp=at)
        with self.write_lock, self._new_file_in_place(".replacing") as replaced:
            n = replaced.load_dataset(
                dataset_id, rows, seed=f"replace|{at}", timestamp=at, commit_rows=BUILD_COMMIT_ROWS
            )
        return n

    def strip_rows(
        self,
        dataset_id: str,
        keep: Iterable[str],
        updated_at: str,
        batch_rows: int = STRIP_BATCH_ROWS,
        vacuum_step_pages: int = VACUUM_STEP_PAGES,
    ) -> int:
        """Cuts every stored row of a dataset down to its natural key and the fields in `keep`, stamped
        `updated_at`; returns the row count. For a benchmark whose client has read the dataset in full and from
        then on reads it incrementally: the store then holds one dataset whole at a time instead of all of them
        (benchmarks/nyc_full.py).

        What such a client still sees stays true: the row count and key set (`count(*)`, the key sweep that finds
        deletions), the fields its filters and partitions read (pass them in `keep`), every `:id`, and a change
        to a stripped row, which merges a full row over it (`upsert`) and serves it whole. `updated_at` must lie
        before the client's watermark minus its overlap, or its next incremental read would fetch the stubs; a
        full read would fetch them too, so a full replace of the dataset has to come with the rows."""
        table = self.tables[dataset_id]
        # json_patch leaves out the fields a row did not have (a null in a merge patch removes the member).
        fields = [schema_for(dataset_id).key, *(f for f in keep if f in table.fields)]
        pairs = ", ".join(f"{sql_str(f)}, json_extract(__doc, {_json_path(f)})" for f in dict.fromkeys(fields))
        stub_values = f"SELECT __rid, __id, __created_at, ?, __key, json_patch('{{}}', json_object({pairs}))"
        if set(self.tables) == {dataset_id}:
            return self._strip_into_new_file(table, stub_values, updated_at, batch_rows)
        name, stubs = quote_ident(table.name), quote_ident(table.name + "__stubs")
        copy = (
            f"INSERT INTO {stubs} (__rid, __id, __created_at, __updated_at, __key, __doc) "
            f"{stub_values} FROM {name} WHERE __rid BETWEEN ? AND ?"
        )
        with self.write_lock:
            conn = self.connection()
            incremental = conn.execute("PRAGMA auto_vacuum").fetchone()[0] == _AUTO_VACUUM_INCREMENTAL
            (create,) = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table.name,))
            prefix = f"CREATE TABLE {name} ("
            if not create[0].startswith(prefix):
                raise RuntimeError(f"unexpected definition of {table.name}: {create[0][:80]!r}")
            conn.execute(f"DROP TABLE IF EXISTS {stubs}")
            conn.execute(f"CREATE TABLE {stubs} (" + create[0][len(prefix) :])  # the same columns, generated too
            low, high = conn.execute(f"SELECT min(__rid), max(__rid) FROM {name}").fetchone()
            # The stubs go into a table of their own, a batch a transaction, each checkpointed (one statement over
            # every row wrote a WAL as large as the table: benchmarks/RESULTS.md, "At full size"); the old table is
            # then dropped whole. Rewritten in place, the rows left their pages to the table (a b-tree rebalances
            # only when pages empty out) and only a VACUUM gave them back, copying every other dataset too.
            stripped = _copy_in_batches(conn, copy, updated_at, low, high, batch_rows)
            with _transaction(conn):
                conn.execute(f"DROP TABLE {name}")
                conn.execute(f"ALTER TABLE {stubs} RENAME TO {name}")
                self._index_table(conn, table)
            _give_back_wal(conn)
            self._give_back_free_pages(conn, incremental, vacuum_step_pages)
        return stripped

    def _strip_into_new_file(self, table: Table, stub_values: str, updated_at: str, batch_rows: int) -> int:
        """strip_rows for a file that holds this dataset alone: the stubs go into a new file that then takes this
        one's place, so the rows' disk comes back at once and no page is moved (giving the pages of a file's
        middle back moves every page after them)."""
        name = quote_ident(table.name)
        with self.write_lock:
            (create,) = self.connection().execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table.name,)
            )
            with self._new_file_in_place(".stubs") as stubs:
                conn = stubs.connection()
                conn.execute(create[0])  # the same columns, generated too
                conn.execute("ATTACH DATABASE ? AS source", (str(self.db_path),))
                conn.execute("INSERT INTO main._datasets SELECT * FROM source._datasets")
                low, high = conn.execute(f"SELECT min(__rid), max(__rid) FROM source.{name}").fetchone()
                copy = (
                    f"INSERT INTO main.{name} (__rid, __id, __created_at, __updated_at, __key, __doc) "
                    f"{stub_values} FROM source.{name} WHERE __rid BETWEEN ? AND ?"
                )
                stripped = _copy_in_batches(conn, copy, updated_at, low, high, batch_rows)
                conn.execute("DETACH DATABASE source")
                stubs.reload_tables()
                # Each index its own transaction, checkpointed: the WAL holds one index at a time.
                stubs._index_table(conn, stubs.tables[table.dataset_id])
                _give_back_wal(conn)
        return stripped

    @contextmanager
    def _new_file_in_place(self, suffix: str) -> Iterator[ReplayStore]:
        """A new store file, this one's `_meta` copied into it, that takes this file's place when the block ends;
        a block that fails leaves this file as it was and removes the new one."""
        new_path = self.db_path.with_name(self.db_path.name + suffix)
        remove_database(new_path)
        new = ReplayStore(new_path)
        try:
            conn = new.connection()
            conn.execute("PRAGMA synchronous = OFF")  # a failure leaves the old file as it was
            conn.execute("ATTACH DATABASE ? AS source", (str(self.db_path),))
            conn.execute("INSERT INTO main._meta SELECT * FROM source._meta")
            conn.execute("DETACH DATABASE source")
            yield new
            new.close()
        except BaseException:
            new.close()
            remove_database(new_path)
            raise
        self._take_place_of_file(new_path)

    def _take_place_of_file(self, new_path: Path) -> None:
        """Serves `new_path` (closed, whole) from this store's path from now on, in place of the file there."""
        self._close_connections()
        os.replace(new_path, self.db_path)
        for suffix in ("-wal", "-shm"):  # the old file's, checkpointed when its last connection closed
            Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)
        self.reload_tables()

    def _give_back_free_pages(self, conn: sqlite3.Connection, incremental: bool, step_pages: int) -> None:
        """Shrinks the file by its free pages: a step at a time with auto_vacuum=INCREMENTAL (each step moves the
        last pages into free ones and is checkpointed, so the WAL stays a step's size), else by VACUUM (a store
        created before auto_vacuum: a copy of the whole file, and the WAL of another)."""
        if not incremental:
            conn.execute("VACUUM")
            _give_back_wal(conn)
            return
        while conn.execute("PRAGMA freelist_count").fetchone()[0]:
            # executescript steps the pragma to its end: execute() frees one page a call.
            conn.executescript(f"PRAGMA incremental_vacuum({int(step_pages)});")
            _give_back_wal(conn)

    def ensure_table(self, dataset_id: str) -> Table:
        if dataset_id not in self.tables:
            self.load_dataset(dataset_id, [], seed="empty", timestamp=utc_timestamp())
        return self.tables[dataset_id]


_TEXT_TYPES = frozenset({str, type(None)})


def _api_fields(row: Row) -> Row:
    """A row's fields as stored in `__doc`: without system fields and nulls."""
    data = dict(row)
    for name in SYSTEM_FIELDS:
        data.pop(name, None)
    if None in data.values():
        data = {k: v for k, v in data.items() if v is not None}
    return data


def _schema_json_columns(columns: Iterable[tuple[str, str]]) -> set[str]:
    """Fields whose values are JSON objects or booleans by their Socrata type."""
    return {f for f, t in columns if t in ("point", "checkbox")}


def _field_column(field_name: str, json_values: bool) -> str:
    """A field's column: VIRTUAL, computed from the row's JSON when read (SQLite 3.31+), so it takes no space.

    TEXT affinity turns numbers into the text `_cell` used to store; objects come out as their JSON text. For
    fields whose values may be JSON booleans (checkboxes, columns the schema does not know) true/false stay the
    words, not json_extract's 1/0."""
    path = _json_path(field_name)
    value = f"json_extract(__doc, {path})"
    if json_values:
        value = f"CASE json_type(__doc, {path}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE {value} END"
    return f"{quote_ident(field_name)} TEXT GENERATED ALWAYS AS ({value}) VIRTUAL"


def _json_path(field_name: str) -> str:
    return sql_str('$."' + field_name.replace('"', '\\"') + '"')


def _create_meta(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS _meta (k TEXT PRIMARY KEY, v TEXT)")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _datasets (id TEXT PRIMARY KEY, tbl TEXT, columns TEXT, json_columns TEXT)"
    )


def _copy_in_batches(
    conn: sqlite3.Connection, copy: str, updated_at: str, low: int | None, high: int | None, batch_rows: int
) -> int:
    """Runs `copy` (an INSERT ... SELECT over `__rid BETWEEN ? AND ?`) a batch of `batch_rows` rids a transaction,
    each checkpointed, so the WAL holds one batch; returns the rows copied."""
    copied = 0
    for first in range(low or 0, (high or -1) + 1, batch_rows):
        with _transaction(conn):
            copied += conn.execute(copy, (updated_at, first, first + batch_rows - 1)).rowcount
        _give_back_wal(conn)
    return copied


def _give_back_wal(conn: sqlite3.Connection) -> None:
    """Checkpoints the WAL and truncates it: a transaction's pages (a publisher's full replace of a large dataset)
    otherwise stay on disk in the WAL file, which SQLite reuses but never shrinks."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN ... COMMIT on a connection in autocommit mode (isolation_level=None); ROLLBACK on any exception."""
    conn.execute("BEGIN")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- building from a directory ---


def discover_sources(data_dir: Path) -> dict[str, list[Path]]:
    """`<id>.json` / `<id>.json.zst` / `<id>.csv` files (and `<id>/*.json|json.zst|csv`) in data_dir, by dataset
    id."""
    sources: dict[str, list[Path]] = {}
    for p in sorted(Path(data_dir).iterdir()):
        if p.name.startswith("."):
            continue
        suffix = dataset_file_suffix(p)
        if p.is_file() and suffix:
            sources.setdefault(p.name[: -len(suffix)], []).append(p)
        elif p.is_dir():
            files = sorted(f for f in p.iterdir() if dataset_file_suffix(f))
            if files:
                sources.setdefault(p.name, []).extend(files)
    return sources


# Part of every cache fingerprint: bump it when the store's layout changes (tables, indexes), so a cache built
# by older code is rebuilt rather than reused. 2: partition-column indexes. 3: field columns generated from __doc.
# 4: partition columns indexed with :updated_at.
STORE_LAYOUT = 4


def fingerprint(sources: Mapping[str, Sequence[Path]]) -> str:
    h = hashlib.sha256(f"layout {STORE_LAYOUT}\n".encode())
    for ds in sorted(sources):
        for p in sources[ds]:
            st = p.stat()
            h.update(f"{ds}|{p.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def row_id_seed(path: Path) -> str:
    """What a file's rows' `:id`s are drawn from: its name, less `.zst` (compressed, the same rows get the same ids)."""
    return path.name.removesuffix(ZSTD_SUFFIX)


def _file_timestamp(path: Path) -> str:
    # Snapshot rows get the file's modification time as :created_at/:updated_at: stable across runs.
    return utc_timestamp(datetime.fromtimestamp(path.stat().st_mtime, UTC))


def build_store(sources: Mapping[str, Sequence[Path]], db_path: Path, *, owns_file: bool = False) -> ReplayStore:
    """Loads every dataset; a file that cannot be read (truncated, empty, not the format its name says) is left
    out with its name and line in `store.load_errors`, and its dataset is served from its other files (or not at
    all: a dataset missing is an honest 404, an empty one would look like a publisher deleting everything)."""
    store = ReplayStore(db_path, owns_file=owns_file)
    conn = store.connection()
    conn.execute("PRAGMA synchronous = OFF")  # a crashed build is simply rebuilt
    for dataset_id, all_paths in sources.items():
        paths = list(all_paths)
        while paths:
            timestamp = max(_file_timestamp(p) for p in paths)
            rows = (row for p in paths for row in read_dataset_file(p, dataset_id))
            try:
                store.load_dataset(
                    dataset_id,
                    rows,
                    seed=",".join(map(row_id_seed, paths)),
                    timestamp=timestamp,
                    commit_rows=BUILD_COMMIT_ROWS,
                )
                break
            except (DataFileError, UnicodeDecodeError, csv.Error, OSError) as error:
                bad = error.path if isinstance(error, DataFileError) else _failing_file(paths, dataset_id)
                message = f"{dataset_id}: skipped {error if isinstance(error, DataFileError) else f'{bad}: {error}'}"
                store.load_errors.append(message)
                log.error("replay file skipped", extra={"dataset": dataset_id, "error": message})
                paths = [p for p in paths if p != bad] if bad in paths else []
    conn.execute("PRAGMA synchronous = NORMAL")
    store.set_meta("fingerprint", fingerprint(sources))
    store.set_meta("pristine", "1")
    return store


def _failing_file(paths: Sequence[Path], dataset_id: str) -> Path | None:
    """Which of a dataset's files raised a non-DataFileError error: read each alone."""
    for path in paths:
        try:
            for _ in read_dataset_file(path, dataset_id):
                pass
        except (DataFileError, UnicodeDecodeError, csv.Error, OSError):
            return path
    return None


def open_store(
    data_dir: Path | None = None,
    *,
    sources: Mapping[str, Sequence[Path]] | None = None,
    cache: bool = True,
) -> ReplayStore:
    """The store for a data directory (or explicit source files), reusing `DIR/.replay-cache.sqlite` when it
    was built from the same files and no changes were applied since; otherwise builds into a temp file."""
    if sources is None:
        if data_dir is None:
            raise ValueError("give data_dir or sources")
        sources = discover_sources(Path(data_dir))
    if cache and data_dir is not None and os.access(data_dir, os.W_OK):
        path = Path(data_dir) / CACHE_NAME
        fp = fingerprint(sources)
        if path.exists():
            store = ReplayStore(path)
            if store.get_meta("fingerprint") == fp and store.get_meta("pristine") == "1":
                return store
            store.close()
        tmp = path.with_suffix(f".building-{os.getpid()}")
        remove_database(path)
        try:
            store = build_store(sources, tmp, owns_file=True)
        except BaseException:
            remove_database(tmp)  # no half-built cache is ever left behind
            raise
        if store.load_errors:
            return store  # not cached: the next start must report the bad files again, not serve around them
        store._owns_file = False
        store.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
        tmp.replace(path)
        return ReplayStore(path)
    fd, name = tempfile.mkstemp(prefix="replay-", suffix=".sqlite")
    os.close(fd)
    return build_store(sources, Path(name), owns_file=True)
