"""One ingestion run, serially, without Ray: the reference the Ray pipeline must agree with, and the way to
load a directory of NYC data (or a synthetic city) into PostgreSQL in tests and small deployments.

The run's frame and a dataset's last steps (sentinel.ingest.lifecycle) are shared with the Ray runner."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from sentinel.datasets import DatasetConfig, load_datasets
from sentinel.ingest import pipeline
from sentinel.ingest.lifecycle import finish_dataset, ingestion_run
from sentinel.ingest.pages import normalize_body
from sentinel.ingest.pipeline import DatasetSummary, PartitionResult, PartitionTask
from sentinel.ingest.socrata import Cursor, SchemaDriftError, SocrataSource, SourceUnavailableError, cursor_after

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, str, int], None]  # dataset, partition, rows just committed


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
        tasks = pipeline.plan_or_skip(
            conn, source, config, summary, incremental=options.incremental,
            whole_read_days=options.guards.whole_read_days,
        )  # fmt: skip
        for task in tasks:
            result = read_partition(conn, source, config, task, run_id, options)
            summary.fetched += result.fetched
            summary.add_stats(result.stats)
        if summary.unchanged_since is None:  # a dataset not read has nothing to reconcile
            finish_dataset(conn, source, config, summary, run_id, options.guards)
    except (SchemaDriftError, SourceUnavailableError) as error:
        summary.error = str(error)
        log.error("dataset failed", extra={"dataset": config.name, "error": str(error)})
    summary.seconds = time.perf_counter() - started
    return summary


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
