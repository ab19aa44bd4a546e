"""An ingestion run's frame and a dataset's last steps, shared by the serial runner (sentinel/ingest/run.py) and the
Ray runner (actors/ingestion.py): the run lock, the `ingestion_runs` row, locating address-only records once
every dataset is in, judging rejects and reconciling deletions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg

from sentinel.datasets import DatasetConfig, load_datasets
from sentinel.ingest import anomalies, deferred_indexes, live_counts, locate, partial_read, pipeline
from sentinel.ingest.pipeline import DatasetSummary
from sentinel.ingest.socrata import SocrataSource
from sentinel.ingest.writer import TOMBSTONED

_RUN_LOCK = 0x56535F494E47  # "VS_ING": one ingestion at a time per database


class IngestionBusyError(Exception):
    """Another ingestion run holds the lock on this database."""


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


def finish_dataset(
    conn: psycopg.Connection,
    source: SocrataSource,
    config: DatasetConfig,
    summary: DatasetSummary,
    run_id: int,
    guards: pipeline.Guards,
) -> None:
    """After a dataset's last page, in both runners: judge its rejects, then reconcile its deletions under the
    guards; an anomaly is recorded and told to the admins, and leaves every live record live. A partial read
    (partial_read.py) reconciles nothing: the rows it asked for are a sliver of the source's. A whole or partial read
    that ended cleanly is recorded for the next run's choice."""
    pipeline.judge_rejects(summary, guards)
    if summary.error:
        return  # a dataset that failed says nothing reliable about what the source no longer has
    if summary.read == partial_read.PARTIAL:
        pipeline.analyze_if_stale(conn, config.target_table, summary.written)
        partial_read.record_read(conn, config, partial_read.PARTIAL)
        return
    whole = summary.read == partial_read.WHOLE
    result = reconcile(conn, source, config, run_id, changed=summary.written, whole=whole, guards=guards)
    summary.deleted = result.deleted
    if result.anomaly is not None:
        summary.anomaly = result.anomaly.detail
        summary.held_deletions = result.anomaly.would_delete
        anomalies.record(conn, run_id, config.name, result.anomaly)
    elif summary.read == partial_read.WHOLE and config.partial_read is not None:
        partial_read.record_read(conn, config, partial_read.WHOLE)


def reconcile(
    conn: psycopg.Connection,
    source: SocrataSource,
    config: DatasetConfig,
    run_id: int,
    *,
    changed: int = 0,
    whole: bool = True,
    guards: pipeline.Guards | None = None,
) -> pipeline.Reconciled:
    """Finds deletions by key-set difference, but only when the counts say the key sets differ: the source's
    row count against our live records plus the keys we rejected (which the source has and we do not). Our live
    records are the kept count (live_counts.py) after a read of what changed, counted exactly after a `whole`
    read or when the kept one disagrees. `changed`: rows this run inserted or updated, which may have left the
    table's statistics stale."""
    pipeline.analyze_if_stale(conn, config.target_table, changed)
    if config.target_table not in TOMBSTONED:
        return pipeline.Reconciled()
    total = source.count(config.socrata_id, config.row_filter)
    rejected = pipeline.rejected_key_count(conn, config)
    kept = None if whole else live_counts.kept(conn, config.name)
    if kept is not None and total == kept + rejected:
        return pipeline.Reconciled()
    live = pipeline.live_count(conn, config)
    live_counts.store(conn, config.name, live)
    if total == live + rejected:
        return pipeline.Reconciled()
    if total == 0 and live and guards is not None:
        return pipeline.empty_source(live)
    keys = source.keys(config.socrata_id, config.natural_key, config.row_filter)
    return pipeline.reconcile_deletions(conn, config, keys, run_id, guards)


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
    block ends. A table the run fills from empty has its secondary indexes built after the block
    (deferred_indexes.py)."""
    catalog = catalog if catalog is not None else load_datasets()
    with psycopg.connect(database_url, autocommit=True) as conn, run_lock(conn):
        mode = "incremental" if incremental else "full"
        run_id = pipeline.start_run(conn, mode=mode, source_url=source_url, datasets=datasets)
        summaries = {name: DatasetSummary(name) for name in datasets}
        try:
            deferred_indexes.restore(conn)  # what a run that stopped mid-load left to build
            written = {t for name in datasets if name in catalog for t in catalog[name].tables}
            deferred_indexes.defer(conn, [t for t in deferred_indexes.TABLES if t in written])
            yield conn, run_id, summaries
            deferred_indexes.restore(conn)
            locate_after_run(conn, summaries, catalog, run_id)
        except BaseException as error:
            pipeline.finish_run(conn, run_id, summaries.values(), error=f"{type(error).__name__}: {error}")
            raise
        pipeline.finish_run(conn, run_id, summaries.values())


def locate_after_run(
    conn: psycopg.Connection,
    summaries: dict[str, DatasetSummary],
    catalog: dict[str, DatasetConfig],
    run_id: int,
) -> None:
    """Once every dataset of the run is in, so the result never depends on which finished first (the Ray
    runner finishes them in any order): lots loaded by this run get their address keys, then the complaints
    without a BBL are located against the lots as they now stand. Lots and buildings not read (their datasets
    unchanged since the last read) gave nothing new to locate against: only complaints read by this run are
    located then, and of those only the ones written since the last run that got this far (`run_id`'s earlier
    runs that finished): a record no lot could place stays unplaceable until the lots change, and retrying every
    such record each day cost a day time in proportion to the city (benchmarks/RESULTS.md, "A day's statements
    that grew with the city")."""
    configs = [catalog[name] for name in summaries if name in catalog]
    read = [c for c in configs if summaries[c.name].unchanged_since is None]
    lots = [c for c in read if c.target_table == "properties"]
    if lots:
        locate.backfill_address_keys(conn)
    places_read = any({"properties", "buildings"} & set(c.tables) for c in read)
    complaint_sets = [c for c in configs if c.target_table == "complaints" and (places_read or c in read)]
    written_after = None if places_read else pipeline.last_finished_run(conn, run_id)
    if lots and not complaint_sets:
        summaries[lots[0].name].located = locate.resolve_unlocated(conn, None, run_id=run_id, upgrade=True)
    for config in complaint_sets:
        summaries[config.name].located = locate.resolve_unlocated(
            conn, config.source, run_id=run_id, upgrade=bool(lots), written_after=written_after
        )
