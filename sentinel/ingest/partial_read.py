"""Daily reads of a fully replaced dataset cut to what can have changed, with a whole read every few days.

DOB complaints (`eabe-havv`, ~3.0M rows) are replaced by their publisher every day: every row's `:updated_at` and
the dataset's `rowsUpdatedAt` move, so neither tells what changed, and a daily whole read was most of a day's
ingestion at full size (benchmarks/RESULTS.md, "NYC at full size"). Its date fields are text ("MM/DD/YYYY",
NYC_DATA.md 3.6), so they cannot be range-filtered server-side, but equality and IN work: a complaint changes on a
day it is entered, inspected or disposed of, and that day is stamped into the record; a new complaint gets the
next number of its borough. A partial read asks for

    (partition) AND (key > '<largest stored key of the partition>' OR date_entered IN ('<day>', ...) OR ...)

with the publish days since the last clean read (the source's `rowsUpdatedAt`, the publisher's clock, minus
`lookback_days` for changes entered after the day they carry). What no field stamps (a corrected address, a
deletion) waits for the next whole read: one every `ingest_whole_read_days`, when none is on record, when the
source's version is unknown, and always with `--full`. Only a whole read reconciles deletions
(lifecycle.finish_dataset): a partial read's key set is a sliver of the source's.

The bookkeeping (migration 0028) is stamped on the dataset's watermarks only once a read of the whole dataset
finished cleanly, so a partial read that failed is repeated, with a window from the same last clean read, by
the next run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg import sql

from sentinel.datasets import OTHER_PARTITION, DatasetConfig
from sentinel.deadlines import CITY_ZONE
from sentinel.ingest.source_version import SourceVersion

WHOLE = "whole"
PARTIAL = "partial"
# A window longer than this many days beyond the whole-read interval means reads kept failing: read whole.
_SLACK_DAYS = 3


@dataclass(frozen=True, slots=True)
class ReadChoice:
    kind: str  # WHOLE or PARTIAL
    reason: str
    days: tuple[date, ...] = ()  # a partial read's publish days, oldest first
    wheres: dict[str, str | None] = field(default_factory=dict)  # a partial read's $where per partition


_MARKS = """
SELECT partition, completed, mode, whole_read_at, changes_read_through
FROM watermarks WHERE dataset = %s
"""


def choose(
    conn: psycopg.Connection,
    config: DatasetConfig,
    version: SourceVersion,
    *,
    whole_read_days: int,
    now: datetime | None = None,
) -> ReadChoice:
    """Whole or partial, and why; a partial choice carries each partition's `$where`."""
    spec = config.partial_read
    assert spec is not None
    now = now or version.checked_at
    if version.rows_updated_at is None:
        return ReadChoice(WHOLE, "rowsUpdatedAt unknown: read whole")
    marks = {row[0]: row[1:] for row in conn.execute(_MARKS, (config.name,)).fetchall()}
    whole_at: list[datetime] = []
    through: list[datetime] = []
    for partition in config.partitions():
        if partition not in marks:
            return ReadChoice(WHOLE, f"partition {partition} never read: read whole")
        completed, mode, whole_read_at, read_through = marks[partition]
        if not completed and mode == "full":
            return ReadChoice(WHOLE, f"partition {partition}'s whole read did not finish: resumed")
        if whole_read_at is None or read_through is None:
            return ReadChoice(WHOLE, "no clean whole read on record: read whole")
        whole_at.append(whole_read_at)
        through.append(read_through)
    age = (now.astimezone(UTC).date() - min(whole_at).astimezone(UTC).date()).days
    if age >= whole_read_days:
        return ReadChoice(WHOLE, f"last whole read {age} days ago (every {whole_read_days}): read whole")
    first = _city_day(min(through)) - timedelta(days=spec.lookback_days)
    # One day past the source's own: our clock and the publisher's need not agree on when a day ends.
    last = _city_day(version.rows_updated_at) + timedelta(days=1)
    span = (last - first).days + 1
    if span > whole_read_days + spec.lookback_days + _SLACK_DAYS:
        return ReadChoice(WHOLE, f"changes since {first.isoformat()} ({span} days) not read: read whole")
    days = tuple(first + timedelta(days=n) for n in range(max(span, 0)))
    wheres = {
        partition: _partition_where(
            base, change_filter(config, days, max_stored_key(conn, config, partition), _key_below(config, partition))
        )
        for partition, base in config.partitions().items()
    }
    return ReadChoice(PARTIAL, f"partial read of {first.isoformat()}..{last.isoformat()}", days, wheres)


def _city_day(value: datetime) -> date:
    return value.astimezone(CITY_ZONE).date()


def _partition_where(base: str | None, change: str) -> str:
    return f"({base}) AND ({change})" if base else change


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def change_filter(config: DatasetConfig, days: tuple[date, ...], above_key: str | None, below_key: str | None) -> str:
    """SoQL selecting the rows a change can have touched: stamped with one of `days`, or keyed above `above_key`
    (and below `below_key`, the end of the partition's key range, which its own filter implies: said outright,
    the source reads one key range of its index instead of every key above, the other partitions' too)."""
    spec = config.partial_read
    assert spec is not None
    listed = ", ".join(_quote(d.strftime(spec.date_format)) for d in days)
    clauses = [f"{name} IN ({listed})" for name in spec.changed_on] if days else []
    if above_key is not None:
        above = f"{config.natural_key} > {_quote(above_key)}"
        if below_key is not None:
            above = f"({above} AND {config.natural_key} < {_quote(below_key)})"
        clauses.insert(0, above)
    return " OR ".join(clauses) or "false"


def _key_range(config: DatasetConfig, partition: str) -> tuple[str, str] | None:
    """A borough partition of a key-prefix dataset: its keys run from its digit to the next one (text order)."""
    if config.partition.kind == "key_prefix" and partition.isdigit() and int(partition) < 9:
        return partition, str(int(partition) + 1)
    return None


def _key_below(config: DatasetConfig, partition: str) -> str | None:
    key_range = _key_range(config, partition)
    return key_range[1] if key_range else None


_KEY_COLUMN = {"violations": "source_id", "complaints": "source_id"}


def max_stored_key(conn: psycopg.Connection, config: DatasetConfig, partition: str) -> str | None:
    """The largest stored key of `key_width` characters in the partition (tombstones too: a key is never reused);
    None when the dataset declares no key width or the partition holds no such key. A borough partition of a
    key-prefix dataset covers the keys starting with its digit; the catch-all partition has no key range."""
    spec = config.partial_read
    if spec is None or spec.key_width is None or partition == OTHER_PARTITION:
        return None
    if config.target_table not in _KEY_COLUMN or config.source is None:
        return None  # only the tables keyed by (source, source_id) text
    key = sql.Identifier(_KEY_COLUMN[config.target_table])
    where = [sql.SQL("source = %s"), sql.SQL("length({}) = %s").format(key)]
    params: list[object] = [config.source, spec.key_width]
    key_range = _key_range(config, partition)
    if key_range is not None:
        # A range, not starts_with: the unique (source, source_id) index then answers from its end.
        where += [sql.SQL("{} >= %s").format(key), sql.SQL("{} < %s").format(key)]
        params += list(key_range)
    query = sql.SQL("SELECT max({key}) FROM {table} WHERE {where}").format(
        key=key, table=sql.Identifier(config.target_table), where=sql.SQL(" AND ").join(where)
    )
    row = conn.execute(query, params).fetchone()
    return row[0] if row and row[0] is not None else None


def record_read(conn: psycopg.Connection, config: DatasetConfig, kind: str) -> None:
    """After a read of the whole dataset finished cleanly: when it began (our clock) and the source's version then,
    as every partition's mark kept them from the read's start (pipeline.commit_page)."""
    column = "whole_read_at" if kind == WHOLE else "partial_read_at"
    with conn.transaction():
        conn.execute(
            sql.SQL(
                "UPDATE watermarks SET {column} = source_checked_at, changes_read_through = source_rows_updated_at"
                " WHERE dataset = %s AND completed"
            ).format(column=sql.Identifier(column)),
            (config.name,),
        )
