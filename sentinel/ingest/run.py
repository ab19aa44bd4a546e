"""One ingestion run, serially, without Ray: the reference the Ray pipeline must agree with, and the way to
load a directory of NYC data (or a synthetic city) into PostgreSQL in tests and small deployments."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import psycopg

from sentinel.datasets import DatasetConfig, load_datasets
from sentinel.ingest import anomalies, locate, pipeline
from sentinel.ingest.pages import normalize_body
from sentinel.ingest.pipeline import DatasetSummary, PartitionResult, PartitionTask
from sentinel.ingest.socrata import Cursor, SchemaDriftError, SocrataSource, SourceUnavailableError, cursor_after

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, str, int], None]  # dataset, partition, rows just committed
_RUN_LOCK = 0x56535F494E47  # "VS_ING": one ingestion at a time per database


class IngestionBusyError(Exception):
    """Another ingestion run holds the lock on this database."""


@dataclass(slots=True)
class RunOptions:
    datasets: list[str]
    incremental: bool = True
    page_size: int = 20_000
    on_progress: ProgressCallback | None = None
    catalog: dict[str, DatasetConfig] = field(default_factory=load_datasets)
    guards: pipeline.Guards = field(default_factory=pipeline.Guards)

    def configs(self) -> list[DatasetConfig]:
        unknown = [name for name in self.datasets if name not in self.catalog]
        if unknown:
            raise ValueError(f"unknown dataset(s): {', '.join(unknown)}; known: {', '.join(self.catalog)}")
        return [self.catalog[name] for name in self.datasets]


@contextlib.contextmanager
def run_lock(conn: psycopg.Connection) -> Iterator[None]:
    """Held for a whole run; runs left 'running' by a killed process are closed as failed once we hold it."""
    got = conn.execute("SELECT pg_try_advisory_lock(%s)", (_RUN_LOCK,)).fetchone()
    if not got or not got[0]:
        raise IngestionBusyError("another ingestion run is in progress on this database")
    try:
        with conn.transaction():
            conn.execute(
                "UPDATE ingestion_runs SET status = 'failed', finished_at = now(), "
                "error = 'interrupted: the process running it stopped' WHERE status = 'running'"
            )
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_RUN_LOCK,))


def read_partition(
    conn: psycopg.Connection,
    source: SocrataSource,
    config: DatasetConfig,
    task: PartitionTask,
    run_id: int,
    options: RunOptions,
) -> PartitionResult:
    result = PartitionResult(task.dataset, task.partition)
    cursor: Cursor | None = task.cursor
    committed = task.rows_committed
    while True:
        body = source.page_body(
            task.socrata_id, where=task.where, cursor=cursor, incremental=task.incremental, limit=options.page_size
        )
        meta, batch = normalize_body(config, body)
        if meta.last_row is None:
            break
        committed += meta.rows
        stats = pipeline.commit_page(
            conn,
            batch,
            task=task,
            read_after=cursor,
            last_row=meta.last_row,
            max_updated_at=meta.max_updated_at,
            rows_committed=committed,
            run_id=run_id,
        )
        result.fetched += meta.rows
        result.pages += 1
        result.stats.add(stats)
        if options.on_progress:
            options.on_progress(task.dataset, task.partition, meta.rows)
        if meta.rows < options.page_size:
            break
        cursor = cursor_after(meta.last_row, task.incremental)
    pipeline.finish_partition(conn, task, run_id)
    return result


def ingest_dataset(
    conn: psycopg.Connection, source: SocrataSource, config: DatasetConfig, run_id: int, options: RunOptions
) -> DatasetSummary:
    started = time.perf_counter()
    summary = DatasetSummary(config.name)
    try:
        force_full = options.incremental and pipeline.is_full_replace(source, conn, config)
        summary.full_replace_detected = force_full
        for task in pipeline.plan_dataset(conn, config, incremental=options.incremental, force_full=force_full):
            result = read_partition(conn, source, config, task, run_id, options)
            summary.fetched += result.fetched
            summary.add_stats(result.stats)
        finish_dataset(conn, source, config, summary, run_id, options.guards)
    except (SchemaDriftError, SourceUnavailableError) as error:
        summary.error = str(error)
        log.error("dataset failed", extra={"dataset": config.name, "error": str(error)})
    summary.seconds = time.perf_counter() - started
    return summary


def finish_dataset(
    conn: psycopg.Connection,
    source: SocrataSource,
    config: DatasetConfig,
    summary: DatasetSummary,
    run_id: int,
    guards: pipeline.Guards,
) -> None:
    """After a dataset's last page, in both runners: judge its rejects, then reconcile its deletions under the
    guards; an anomaly is recorded and told to the admins, and leaves every live record live."""
    pipeline.judge_rejects(summary, guards)
    if summary.error:
        return  # a dataset that failed says nothing reliable about what the source no longer has
    result = reconcile(conn, source, config, changed=summary.written, guards=guards)
    summary.deleted = result.deleted
    if result.anomaly is not None:
        summary.anomaly = result.anomaly.detail
        summary.held_deletions = result.anomaly.would_delete
        anomalies.record(conn, run_id, config.name, result.anomaly)


def reconcile(
    conn: psycopg.Connection,
    source: SocrataSource,
    config: DatasetConfig,
    *,
    changed: int = 0,
    guards: pipeline.Guards | None = None,
) -> pipeline.Reconciled:
    """Finds deletions by key-set difference, but only when the counts say the key sets differ: the source's
    row count against our live records plus the keys we rejected (which the source has and we do not).
    `changed`: rows this run inserted or updated, which may have left the table's statistics stale."""
    pipeline.analyze_if_stale(conn, config.target_table, changed)
    live = pipeline.live_count(conn, config)
    if live is None:
        return pipeline.Reconciled()
    total = source.count(config.socrata_id, config.row_filter)
    if total == live + pipeline.rejected_key_count(conn, config):
        return pipeline.Reconciled()
    if total == 0 and live and guards is not None:
        return pipeline.empty_source(live)
    keys = source.keys(config.socrata_id, config.natural_key, config.row_filter)
    return pipeline.reconcile_deletions(conn, config, keys, guards)


@contextlib.contextmanager
def ingestion_run(
    database_url: str,
    *,
    incremental: bool,
    source_url: str,
    datasets: list[str],
    catalog: dict[str, DatasetConfig] | None = None,
) -> Iterator[tuple[psycopg.Connection, int, dict[str, DatasetSummary]]]:
    """One `ingestion_runs` row around a run, under the run lock: the block fills the per-dataset summaries,
    then address-only records are located, and the row is closed as succeeded, partial or failed however the
    block ends."""
    with psycopg.connect(database_url, autocommit=True) as conn, run_lock(conn):
        mode = "incremental" if incremental else "full"
        run_id = pipeline.start_run(conn, mode=mode, source_url=source_url, datasets=datasets)
        summaries = {name: DatasetSummary(name) for name in datasets}
        try:
            yield conn, run_id, summaries
            locate_after_run(conn, summaries, catalog if catalog is not None else load_datasets())
        except BaseException as error:
            pipeline.finish_run(conn, run_id, summaries.values(), error=f"{type(error).__name__}: {error}")
            raise
        pipeline.finish_run(conn, run_id, summaries.values())


def locate_after_run(
    conn: psycopg.Connection, summaries: dict[str, DatasetSummary], catalog: dict[str, DatasetConfig]
) -> None:
    """Once every dataset of the run is in, so the result never depends on which finished first (the Ray
    runner finishes them in any order): lots loaded by this run get their address keys, then the complaints
    without a BBL are located against the lots as they now stand."""
    configs = [catalog[name] for name in summaries if name in catalog]
    lots = [c for c in configs if c.target_table == "properties"]
    if lots:
        locate.backfill_address_keys(conn)
    complaint_sets = [c for c in configs if c.target_table == "complaints"]
    if lots and not complaint_sets:
        summaries[lots[0].name].located = locate.resolve_unlocated(conn, None, upgrade=True)
    for config in complaint_sets:
        summaries[config.name].located = locate.resolve_unlocated(conn, config.source, upgrade=bool(lots))


def run_serial(database_url: str, source: SocrataSource, options: RunOptions) -> tuple[int, list[DatasetSummary]]:
    configs = options.configs()
    names = [c.name for c in configs]
    with ingestion_run(
        database_url,
        incremental=options.incremental,
        source_url=source.base_url,
        datasets=names,
        catalog=options.catalog,
    ) as (
        conn,
        run_id,
        summaries,
    ):
        for config in configs:
            summaries[config.name] = ingest_dataset(conn, source, config, run_id, options)
    return run_id, list(summaries.values())
