"""The steps of an ingestion run, as plain functions over a connection and a Socrata source.

The Ray actors (actors/ingestion.py and its stages) and the serial runner (sentinel/ingest/run.py) call the
same steps: plan partitions (or skip a full-replace dataset whose source has not changed) -> read pages ->
normalize -> `commit_page` (rows + rejects + watermark in one transaction) -> finish the partition -> reconcile
deletions -> finish the run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg import sql

from sentinel.datasets import DatasetConfig
from sentinel.ingest import live_counts, partial_read, source_version, watermarks
from sentinel.ingest.copy_batch import CopyBatch
from sentinel.ingest.socrata import Cursor, SocrataSource, parse_socrata_time
from sentinel.ingest.writer import RUN_TRACKED, TOMBSTONED, WriteStats, write_batch

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class PartitionTask:
    dataset: str
    socrata_id: str
    partition: str
    where: str | None
    incremental: bool
    cursor: Cursor | None
    resumed: bool
    rows_committed: int = 0
    # No watermark yet: the partition has never been read, so its rows are expected to be new (writer.py).
    first_read: bool = False
    # A full-replace dataset's rowsUpdatedAt as asked before this read, and when (source_version.py).
    source_rows_updated_at: datetime | None = None
    source_checked_at: datetime | None = None
    # A partial read (partial_read.py): `where` asks only for what can have changed; ordered by :id like a full
    # read, never resumed, and no deletions inferred from it.
    partial: bool = False
    # The dataset's newest :updated_at when this read was planned (incremental datasets): the mark of a partition
    # whose read found no rows. A row that lands in it later is published after this, so the next run asks for
    # the rows changed since, instead of reading the partition from scratch every run (a whole scan of the
    # source's table for each run's empty "other" partition).
    horizon: datetime | None = None
    # When this read was planned: the next read of the partition starts at most `OVERLAP` before it (watermarks).
    planned_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def mode(self) -> str:
        return "incremental" if self.incremental else "partial" if self.partial else "full"


@dataclass(slots=True)
class PartitionResult:
    dataset: str
    partition: str
    fetched: int = 0
    pages: int = 0
    stats: WriteStats = field(default_factory=WriteStats)


@dataclass(slots=True)
class DatasetSummary:
    dataset: str
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    deleted: int = 0
    status_changes: int = 0
    duplicates: int = 0  # records whose key repeated within a page (the later state kept)
    seconds: float = 0.0
    full_replace_detected: bool = False
    # A full-replace dataset not read: its source's rowsUpdatedAt (ISO, UTC) had not moved since its last full read.
    unchanged_since: str | None = None
    # Why a full-replace dataset was read by an incremental run (rowsUpdatedAt moved, unknown, ...).
    read_because: str | None = None
    # How it was read: "whole" (every row: the only read that may infer deletions), "partial" (what can have
    # changed, partial_read.py) or "incremental" (by :updated_at).
    read: str | None = None
    error: str | None = None
    # A deletion guard held back tombstones (the source came back empty or shrunken): the run is 'partial'.
    anomaly: str | None = None
    held_deletions: int = 0
    quality: dict[str, dict[str, int]] = field(default_factory=dict)  # field -> reason -> rows
    reject_reasons: dict[str, int] = field(default_factory=dict)
    located: dict[str, int] = field(default_factory=dict)  # bbl_source -> rows resolved by it

    @property
    def quality_problems(self) -> int:
        return sum(n for reasons in self.quality.values() for n in reasons.values())

    @property
    def written(self) -> int:
        """Rows this run inserted or updated."""
        return self.inserted + self.updated

    def add_stats(self, stats: WriteStats) -> None:
        self.inserted += stats.inserted
        self.updated += stats.updated
        self.unchanged += stats.unchanged
        self.rejected += stats.rejected
        self.skipped += stats.skipped
        self.status_changes += stats.status_changes
        self.duplicates += stats.duplicates
        for (name, reason), n in stats.quality.items():
            reasons = self.quality.setdefault(name, {})
            reasons[reason] = reasons.get(reason, 0) + n
        for key, n in stats.reject_reasons.items():
            self.reject_reasons[key] = self.reject_reasons.get(key, 0) + n


@dataclass(frozen=True, slots=True)
class Guards:
    """When a dataset's run must not be trusted: its deletions and its rejects, as shares (configs/settings.yaml
    `ingest_max_delete_share`, `ingest_max_reject_share`); and how often a dataset read partially on other days
    is read whole, the only read its deletions may be inferred from (`ingest_whole_read_days`, partial_read.py)."""

    max_delete_share: float = 0.10  # of the live records: more vanishing at once is a source problem
    max_reject_share: float = 0.05  # of the records read (skipped ones aside)
    whole_read_days: int = 7

    @classmethod
    def from_settings(cls, settings: Any) -> Guards:
        return cls(settings.ingest_max_delete_share, settings.ingest_max_reject_share, settings.ingest_whole_read_days)


def judge_rejects(summary: DatasetSummary, guards: Guards) -> None:
    """A dataset whose rejects exceed the share is failed: its rows were written, but most of the source is
    missing from them, and deletions are not reconciled against it."""
    considered = summary.fetched - summary.skipped
    if summary.error or considered <= 0 or summary.rejected <= guards.max_reject_share * considered:
        return
    top = sorted(summary.reject_reasons.items(), key=lambda item: -item[1])[:3]
    reasons = "; ".join(f"{reason} ({n})" for reason, n in top)
    summary.error = (
        f"{summary.rejected:,} of {considered:,} records rejected ({summary.rejected / considered:.0%}), over the "
        f"{guards.max_reject_share:.0%} limit (VS_INGEST_MAX_REJECT_SHARE): {reasons}"
    )


# --- runs -------------------------------------------------------------------------------------------------


def start_run(conn: psycopg.Connection, *, mode: str, source_url: str, datasets: list[str]) -> int:
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO ingestion_runs (mode, source_url, datasets) VALUES (%s, %s, %s) RETURNING id",
            (mode, source_url, datasets),
        ).fetchone()
    assert row is not None
    return int(row[0])


def last_finished_run(conn: psycopg.Connection, run_id: int) -> int | None:
    """The latest run before `run_id` that got to its end (succeeded, or partial with some dataset failed), so
    located its records; None when there is none."""
    row = conn.execute(
        "SELECT max(id) FROM ingestion_runs WHERE id < %s AND status IN ('succeeded', 'partial')", (run_id,)
    ).fetchone()
    return None if row is None else row[0]


def finish_run(
    conn: psycopg.Connection, run_id: int, summaries: Iterable[DatasetSummary], error: str | None = None
) -> str:
    summaries = list(summaries)
    failed = [s for s in summaries if s.error]
    held = [s for s in summaries if s.anomaly and not s.error]
    if error or (failed and len(failed) == len(summaries)):
        status = "failed"
    elif failed or held:
        status = "partial"  # a run that lost or held back data is never 'succeeded'
    else:
        status = "succeeded"
    stats = {s.dataset: asdict(s) for s in summaries}
    with conn.transaction():
        conn.execute(
            "UPDATE ingestion_runs SET status = %s, finished_at = now(), stats = %s, error = %s WHERE id = %s",
            (status, orjson.dumps(stats).decode(), error or _errors(summaries), run_id),
        )
    return status


def _errors(summaries: list[DatasetSummary]) -> str | None:
    problems = [f"{s.dataset}: {s.error}" for s in summaries if s.error]
    problems += [f"{s.dataset}: {s.anomaly}" for s in summaries if s.anomaly and not s.error]
    return "; ".join(problems) or None


# --- planning ---------------------------------------------------------------------------------------------


def plan_or_skip(
    conn: psycopg.Connection,
    source: SocrataSource,
    config: DatasetConfig,
    summary: DatasetSummary,
    *,
    incremental: bool,
    whole_read_days: int = 7,
) -> list[PartitionTask]:
    """A dataset's partitions to read, in both runners; none when an incremental run finds a full-replace dataset
    unchanged since its last full read (`summary.unchanged_since` says since when). A full run always reads, and
    records the source's rowsUpdatedAt with the rows for the runs after it. A dataset declared with
    `partial_read` is read partially by an incremental run unless a whole read is due (partial_read.choose)."""
    version = None
    if config.change_strategy == "full_replace":
        version = source_version.ask(source, config)
        if version.problem:
            log.warning("rowsUpdatedAt unknown: the dataset is read in full",
                        extra={"dataset": config.name, "error": version.problem})  # fmt: skip
        if incremental:
            decision = source_version.decide(conn, config, version, overlap=OVERLAP)
            if decision.skip and decision.since is not None:
                summary.unchanged_since = decision.since.astimezone(UTC).isoformat()
                log.info("dataset not read: unchanged since its last full read",
                         extra={"dataset": config.name, "reason": decision.reason})  # fmt: skip
                return []
            summary.read_because = decision.reason
            if config.partial_read is not None:
                assert version is not None
                choice = partial_read.choose(conn, config, version, whole_read_days=whole_read_days)
                summary.read_because = f"{decision.reason}; {choice.reason}"
                log.info("dataset read", extra={"dataset": config.name, "reason": summary.read_because})
                if choice.kind == partial_read.PARTIAL:
                    summary.read = partial_read.PARTIAL
                    return plan_partial(conn, config, choice, version)
            else:
                log.info("dataset read in full", extra={"dataset": config.name, "reason": decision.reason})
    force_full = incremental and is_full_replace(source, conn, config)
    summary.full_replace_detected = force_full
    tasks = plan_dataset(conn, config, incremental=incremental, force_full=force_full, version=version)
    if config.change_strategy == "incremental" and not all(t.incremental for t in tasks):
        # A partition read from scratch may find no rows: the mark it then takes is asked now, before the read
        # (one request, and only when such a read is planned: a run whose partitions all have marks asks none).
        horizon = parse_socrata_time(source.newest_updated_at(config.socrata_id))
        tasks = [replace(t, horizon=horizon) for t in tasks]
    summary.read = "incremental" if any(t.incremental for t in tasks) else partial_read.WHOLE
    return tasks


def plan_partial(
    conn: psycopg.Connection,
    config: DatasetConfig,
    choice: partial_read.ReadChoice,
    version: source_version.SourceVersion,
) -> list[PartitionTask]:
    """One fresh task per partition with its change filter: an interrupted partial read starts over (it is small,
    and its window, from the last clean read, now covers at least as much)."""
    return [
        PartitionTask(
            config.name,
            config.socrata_id,
            partition,
            where,
            incremental=False,
            cursor=None,
            resumed=False,
            source_rows_updated_at=version.rows_updated_at,
            source_checked_at=version.checked_at,
            partial=True,
        )
        for partition, where in choice.wheres.items()
    ]


def plan_dataset(
    conn: psycopg.Connection,
    config: DatasetConfig,
    *,
    incremental: bool,
    force_full: bool = False,
    version: source_version.SourceVersion | None = None,
) -> list[PartitionTask]:
    """One task per partition, each starting where its watermark says."""
    wants_incremental = incremental and config.change_strategy == "incremental" and not force_full
    tasks = []
    for partition, where in config.partitions().items():
        mark = watermarks.load(conn, config.name, partition)
        if force_full and mark is not None and not mark.incremental and not mark.completed:
            plan = watermarks.plan_read(mark, incremental=False, overlap=OVERLAP)
        elif force_full:
            plan = watermarks.ReadPlan(False, None, False)
        else:
            plan = watermarks.plan_read(mark, incremental=wants_incremental, overlap=OVERLAP)
        committed = mark.rows_committed if (mark and plan.resumed) else 0
        tasks.append(
            PartitionTask(
                config.name,
                config.socrata_id,
                partition,
                where,
                plan.incremental,
                plan.cursor,
                plan.resumed,
                committed,
                first_read=mark is None,
                source_rows_updated_at=version.rows_updated_at if version else None,
                source_checked_at=version.checked_at if version else None,
            )
        )
    return tasks


def largest_first(conn: psycopg.Connection, tasks: Iterable[PartitionTask]) -> list[PartitionTask]:
    """`tasks` ordered by the rows their partition's last finished read committed, most first (unknown last,
    ties in the order given).

    The coordinator reads a few partitions at once, each a chain of pages, and starts the next when one ends: in
    the catalog's order a day's largest partitions (311's boroughs) waited behind seven smaller datasets' and
    then ran alone for the rest of the run (benchmarks/RESULTS.md, "The whole city's week"). Started first, they
    run beside the small ones instead of after them. A partition's last read is the best guess of its next: a
    day's changes look like the day before, a whole read like the last whole read."""
    tasks = list(tasks)
    rows = dict(
        ((dataset, partition), committed)
        for dataset, partition, committed in conn.execute(
            "SELECT dataset, partition, rows_committed FROM watermarks WHERE completed AND dataset = ANY(%s)",
            (sorted({t.dataset for t in tasks}),),
        ).fetchall()
    )
    return sorted(tasks, key=lambda t: -rows.get((t.dataset, t.partition), 0))


def is_full_replace(source: SocrataSource, conn: psycopg.Connection, config: DatasetConfig) -> bool:
    """True when every row's :updated_at moved past the oldest partition mark: the publisher replaced the data
    set (NYC_DATA.md 4.4), so an incremental read would re-read everything anyway and miss deletions. Asked as the
    source's oldest :updated_at, one indexed row, not as two counts of every row (the total and those changed
    since), which the source scans in full each run (benchmarks/RESULTS.md, "A day's last statements that grew
    with the city"). Asked of the whole dataset, not under its row filter (311's agencies): a publisher replaces a
    dataset whole, and the filtered oldest is a sort of every row the filter keeps, not one row of the index."""
    row = conn.execute(
        "SELECT min(updated_at_mark), bool_and(completed) FROM watermarks WHERE dataset = %s", (config.name,)
    ).fetchone()
    if row is None or row[0] is None or not row[1]:
        return False
    since = parse_socrata_time(watermarks.to_socrata(row[0].astimezone(UTC)) + "Z")
    oldest = parse_socrata_time(source.oldest_updated_at(config.socrata_id))
    return oldest is not None and since is not None and oldest > since


# --- pages ------------------------------------------------------------------------------------------------


class OutOfOrderCommitError(Exception):
    """A page arrived whose predecessor in its partition never committed: writing it would skip rows."""


def commit_page(
    conn: psycopg.Connection,
    batch: CopyBatch,
    *,
    task: PartitionTask,
    read_after: Cursor | None,
    last_row: dict[str, Any],
    max_updated_at: str | None,
    rows_committed: int,
    run_id: int,
) -> WriteStats:
    """Writes one page's rows and rejects and moves the partition's watermark, all in one transaction.

    The watermark must stand exactly where this page's read began (`read_after`), unless the page opens a
    fresh read: a later page never commits over an earlier one that failed, so a partition is never half-counted.
    """
    with conn.transaction():
        previous = watermarks.load(conn, task.dataset, task.partition, for_update=True)
        if _committed_already(conn, previous, task, last_row, rows_committed, run_id):
            # A retried call whose first attempt committed, its reply lost (with the writer's node): the rows are
            # in, and writing them again would be refused as out of order. Its counts were lost with the reply.
            return WriteStats()
        opens_fresh_read = read_after == task.cursor and not task.resumed
        if not opens_fresh_read:
            expected = read_after.row_id if read_after else None
            if previous is None or previous.completed or previous.last_id != expected:
                raise OutOfOrderCommitError(
                    f"{task.dataset}/{task.partition}: the page after {expected!r} arrived but the watermark stands "
                    f"at {previous.last_id if previous else None!r}"
                )
        if task.incremental:
            # Pages come in (:updated_at, :id) order: the last row is exactly where the read stands.
            mark_time = parse_socrata_time(last_row.get(":updated_at"))
        else:
            marks = [parse_socrata_time(max_updated_at), previous.updated_at_mark if previous else None]
            mark_time = max((m for m in marks if m is not None), default=None)
        mark = watermarks.Watermark(
            dataset=task.dataset,
            partition=task.partition,
            updated_at_mark=mark_time,
            last_id=last_row.get(":id"),
            rows_committed=rows_committed,
            completed=False,
            mode=task.mode,
        )
        _keep_read_start(mark, task, previous)
        stats = write_batch(conn, batch, run_id, expect_new=task.first_read)
        watermarks.save(conn, mark, run_id)
    return stats


def _committed_already(
    conn: psycopg.Connection,
    previous: watermarks.Watermark | None,
    task: PartitionTask,
    last_row: dict[str, Any],
    rows_committed: int,
    run_id: int,
) -> bool:
    """This very page (same run, same last row, same running count) is the last one committed."""
    return (
        previous is not None
        and not previous.completed
        and previous.last_id == last_row.get(":id")
        and previous.rows_committed == rows_committed
        and watermarks.run_of(conn, task.dataset, task.partition) == run_id
    )


def _keep_read_start(mark: watermarks.Watermark, task: PartitionTask, previous: watermarks.Watermark | None) -> None:
    """What a partition's read began with: the source version asked and the moment it was planned. A resumed read
    keeps the values of the run that started it, so rows read before a change and after it never pass as the
    newer version (the next run then reads again), and the next read's overlap covers the whole read."""
    if task.resumed:
        mark.source_rows_updated_at = previous.source_rows_updated_at if previous else None
        mark.source_checked_at = previous.source_checked_at if previous else None
        mark.read_started_at = previous.read_started_at if previous else None
    else:
        mark.source_rows_updated_at = task.source_rows_updated_at
        mark.source_checked_at = task.source_checked_at
        mark.read_started_at = task.planned_at


def finish_partition(conn: psycopg.Connection, task: PartitionTask, run_id: int) -> None:
    """Marks a partition's read complete, so the next run starts from its mark (or the overlap before its start)."""
    with conn.transaction():
        mark = watermarks.load(conn, task.dataset, task.partition) or watermarks.Watermark(task.dataset, task.partition)
        mark.completed = True
        mark.last_id = None
        mark.mode = task.mode  # a partition that read nothing has only its previous read's mark
        if mark.updated_at_mark is None:  # nor any before it: the source's newest row when the read was planned
            mark.updated_at_mark = task.horizon
        _keep_read_start(mark, task, mark)
        watermarks.save(conn, mark, run_id)
        # The first finished read ends the partition's first sync: alerts treat what it brought as a baseline.
        conn.execute(
            "UPDATE watermarks SET synced_at = coalesce(synced_at, now()) WHERE dataset = %s AND partition = %s",
            (task.dataset, task.partition),
        )


# --- deletions --------------------------------------------------------------------------------------------


_KEY_COLUMN = {
    "violations": "source_id",
    "complaints": "source_id",
    "registrations": "registration_id",
    "registration_contacts": "contact_id",
}


@dataclass(frozen=True, slots=True)
class _LiveScope:
    """The live (not tombstoned) records of one dataset in its table."""

    table: sql.Identifier
    key: sql.Composable
    where: sql.Composable
    params: tuple[Any, ...]


def _live_scope(config: DatasetConfig) -> _LiveScope:
    key = sql.SQL("{}::text").format(sql.Identifier(_KEY_COLUMN[config.target_table]))
    if config.source:
        return _LiveScope(sql.Identifier(config.target_table), key, sql.SQL("source = %s AND NOT is_deleted"),
                          (config.source,))  # fmt: skip
    return _LiveScope(sql.Identifier(config.target_table), key, sql.SQL("NOT is_deleted"), ())


def analyze_if_stale(conn: psycopg.Connection, table: str, changed: int) -> bool:
    """ANALYZEs `table` when this run changed more than a tenth of it (autovacuum's own default threshold) or
    it was never analyzed. A bulk load leaves the planner guessing until autovacuum comes by: right after a
    large load it counted the live records with a bitmap scan of the whole table, several times slower than the
    sequential scan it picks with statistics, and the API's first queries would be planned just as blind
    (benchmarks/RESULTS.md, "Ingestion", ANALYZE after a run)."""
    row = conn.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (table,)).fetchone()
    if row is None or changed <= 0 or (row[0] >= 0 and changed <= 0.1 * row[0]):
        return False
    # Through the owner's function: ANALYZE needs the table's owner, and the ingestion runs as the application role.
    conn.execute("SELECT analyze_table(%s::regclass)", (table,))
    return True


def live_count(conn: psycopg.Connection, config: DatasetConfig) -> int:
    """Records of a dataset with tombstones that are not tombstones, counted: every record (an index-only scan of
    the unique key) minus the tombstones (a partial index), both far cheaper than filtering every row on
    `NOT is_deleted`. After a read of what changed, reconcile uses the kept count instead (live_counts.py)."""
    table = sql.Identifier(config.target_table)
    where, params = (sql.SQL("source = %s"), (config.source,)) if config.source else (sql.SQL("true"), ())
    query = sql.SQL(
        "SELECT (SELECT count(*) FROM {table} WHERE {where})"
        " - (SELECT count(*) FROM {table} WHERE {where} AND is_deleted)"
    ).format(table=table, where=where)
    row = conn.execute(query, params * 2).fetchone()
    return int(row[0]) if row else 0


def rejected_key_count(conn: psycopg.Connection, config: DatasetConfig) -> int:
    """Distinct keys of the dataset that were rejected and never stored since."""
    scope = _live_scope(config)
    query = sql.SQL(
        "SELECT count(DISTINCT r.source_key) FROM rejects r WHERE r.dataset = %s AND r.source_key IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM {table} WHERE {key} = r.source_key AND {where})"
    ).format(table=scope.table, key=scope.key, where=scope.where)
    row = conn.execute(query, (config.name, *scope.params)).fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Deletions a guard held back: the source's key set came back empty or shrank past the allowed share."""

    kind: str  # empty_source / shrunken_source
    live_records: int
    source_records: int
    would_delete: int

    @property
    def detail(self) -> str:
        if self.kind == "empty_source":
            return (
                f"source returned no records while {self.live_records:,} are live: "
                f"no deletions applied, every live record kept"
            )
        return (
            f"source has {self.source_records:,} records and would tombstone {self.would_delete:,} of "
            f"{self.live_records:,} live ({self.would_delete / max(self.live_records, 1):.0%}), over the allowed "
            f"share (VS_INGEST_MAX_DELETE_SHARE): no deletions applied"
        )


@dataclass(frozen=True, slots=True)
class Reconciled:
    deleted: int = 0
    anomaly: Anomaly | None = None


def empty_source(live: int) -> Reconciled:
    return Reconciled(0, Anomaly("empty_source", live, 0, live))


def reconcile_deletions(
    conn: psycopg.Connection,
    config: DatasetConfig,
    keys: Iterable[str],
    run_id: int,
    guards: Guards | None = None,
) -> Reconciled:
    """Tombstones every live record of the dataset whose key the source no longer has, as written by run `run_id`.
    Socrata never reports deletions, so the key-set difference is the only way to see them; an empty or truncated
    upstream looks the same, so with `guards` nothing is tombstoned when the source is empty or too much would
    vanish at once."""
    if config.target_table not in TOMBSTONED:
        return Reconciled()
    scope = _live_scope(config)
    missing = sql.SQL("{where} AND NOT EXISTS (SELECT 1 FROM source_keys s WHERE s.k = {key})").format(
        where=scope.where, key=scope.key
    )
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS source_keys (k text PRIMARY KEY) ON COMMIT DROP")
        source_records = 0
        with cur.copy("COPY source_keys (k) FROM STDIN") as copy:
            for key in set(keys):
                copy.write_row((key,))
                source_records += 1
        if guards is not None:
            live = live_count(conn, config)
            if source_records == 0 and live:
                return empty_source(live)
            row = cur.execute(
                sql.SQL("SELECT count(*) FROM {table} WHERE {missing}").format(table=scope.table, missing=missing),
                scope.params,
            ).fetchone()
            would = int(row[0]) if row else 0
            if would > guards.max_delete_share * live:
                return Reconciled(0, Anomaly("shrunken_source", live, source_records, would))
        tombstone, params = "is_deleted = true, deleted_at = now(), updated_at = now()", scope.params
        if config.target_table in RUN_TRACKED:
            tombstone, params = tombstone + ", last_run_id = %s", (run_id, *params)
        cur.execute(
            sql.SQL("UPDATE {table} SET {tombstone} WHERE {missing}").format(
                table=scope.table, tombstone=sql.SQL(tombstone), missing=missing
            ),
            params,
        )
        deleted = cur.rowcount
        live_counts.add(conn, config.name, -max(deleted, 0))
    return Reconciled(max(deleted, 0))
