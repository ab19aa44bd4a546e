"""An ingestion run's flow, the same whichever engine runs its stages: plan the partitions, keep each one's pages
moving fetch -> normalize -> commit with a bound on pages in flight, commit a partition's pages in order, finish
partitions and datasets, and report progress.

An engine (`Stages`) runs the three stages and hands back a handle per call, which the flow waits on: Ray actors
(actors/ingestion.py: a cluster, and the scheduler's pipeline kept between runs) or this machine's processes
(sentinel/ingest/local_engine.py: a one-off load without a Ray of its own). A page's write commits its rows and
its watermark together, so a run stopped anywhere resumes after its last committed page, on either engine.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import psycopg

from sentinel.datasets import OTHER_PARTITION, DatasetConfig
from sentinel.ingest import pipeline
from sentinel.ingest.lifecycle import finish_dataset, ingestion_run
from sentinel.ingest.pages import PageMeta
from sentinel.ingest.pipeline import DatasetSummary, Guards, OutOfOrderCommitError, PartitionTask
from sentinel.ingest.socrata import Cursor, SchemaDriftError, SocrataSource, SourceUnavailableError, cursor_after
from sentinel.ingest.writer import WriteStats

if TYPE_CHECKING:
    from sentinel.settings import Settings

log = logging.getLogger(__name__)

BOROUGH_PARTITIONS = ("1", "2", "3", "4", "5")

# What a failed page or partition marks its dataset failed with; anything else ends the run.
DATASET_ERRORS = (SchemaDriftError, SourceUnavailableError, OutOfOrderCommitError, psycopg.Error)


@dataclass(frozen=True, slots=True)
class PipelineShape:
    """How wide and how deep the pipeline runs; memory is bounded by active partitions x pages in flight.

    Defaults fit one small machine, where every extra worker process costs CPU to start and shares the
    cores with PostgreSQL: one fetcher process with two requests in flight (threads; fetching is waiting), one
    writer (its COPY is PostgreSQL's work either way). Against the remote API on a cluster, more fetchers and
    threads hide its latency: configs/settings.yaml `ingest_*`.
    """

    fetchers: int = 1
    fetch_threads: int = 2  # concurrent requests per fetcher process
    # Normalizing is the pipeline's CPU work: one process per core takes all the cores, and each process more
    # only adds its memory (a normalizer's heap holds a page's peak) and the CPU of its start. The five boroughs
    # share them in turn (benchmarks/RESULTS.md, "Load efficiency against nycdb").
    normalizers: int = 2
    writers: int = 1
    # Each writer thread has its own connection: one partition's page merges on one PostgreSQL backend while
    # another's merges on the other core (an incremental run's merges otherwise ran one after another).
    write_connections: int = 2
    # 10,000 rows: a page parsed by orjson peaks at many times its JSON size in a normalizer, so 20,000-row pages
    # put the pipeline over its memory budget; 5,000 paid more per-page overhead than it saved
    # (benchmarks/RESULTS.md, "Ingestion").
    page_size: int = 10_000
    active_partitions: int = 5  # every borough of a dataset at once: none waits for another to finish
    pages_in_flight: int = 2  # per partition: fetched but not yet committed

    @classmethod
    def from_settings(cls, settings: Settings, *, page_size: int | None = None) -> PipelineShape:
        return cls(
            fetchers=settings.ingest_fetchers,
            fetch_threads=settings.ingest_fetch_threads,
            normalizers=settings.ingest_normalizers,
            writers=settings.ingest_writers,
            write_connections=settings.ingest_write_connections,
            page_size=page_size or settings.ingest_page_size,
        )


class StageError(Exception):
    """A stage's own code raised `cause` (not the engine failing around it)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Stages(Protocol):
    """An engine's stages. `lane` (0-4) is the partition's borough slot: an engine may give a lane's pages to the
    same normalizer. `value` gives a handle's result, raising `StageError` when the stage's code raised."""

    def fetch_normalized(
        self, task: PartitionTask, cursor: Cursor | None, limit: int, lane: int
    ) -> tuple[Hashable, Hashable]:
        """(the page's PageMeta, its CopyBatch): the page after `cursor`, fetched and normalized."""
        ...

    def commit(
        self,
        batch: Hashable,
        task: PartitionTask,
        read_after: Cursor | None,
        meta: PageMeta,
        rows_committed: int,
        run_id: int,
    ) -> Hashable: ...

    def finish_partition(self, task: PartitionTask, run_id: int) -> Hashable: ...

    def wait_any(self, handles: list[Hashable]) -> Hashable: ...

    def value(self, handle: Hashable) -> Any: ...


@dataclass(slots=True)
class _Partition:
    task: PartitionTask
    lane: int
    cursor: Cursor | None
    committed_rows: int
    fetch: Any = None  # the PageMeta handle of the page in flight (fetched, then normalized)
    fetch_batch: Any = None  # its CopyBatch handle
    fetch_after: Cursor | None = None  # the cursor that fetch reads after
    commit: Any = None  # the handle of the page being committed: one at a time, so pages commit in order
    to_commit: deque[tuple[Any, Cursor | None, PageMeta, int]] = field(default_factory=deque)  # fetched, waiting
    finish: Any = None  # the finish_partition handle, once every page is committed
    wants_fetch: bool = False
    exhausted: bool = False

    @property
    def uncommitted_pages(self) -> int:
        return len(self.to_commit) + (self.commit is not None)


class PipelineFlow:
    """Plans partitions, drives fetch -> normalize -> commit with bounded pages in flight, reports progress."""

    def __init__(
        self,
        stages: Stages,
        database_url: str,
        source: SocrataSource,
        shape: PipelineShape,
        catalog: dict[str, DatasetConfig],
        guards: Guards,
    ) -> None:
        self._stages = stages
        self._database_url = database_url
        self._source = source
        self._shape = shape
        self._catalog = catalog
        self._guards = guards
        self._run_id = 0
        self._progress: dict[str, dict[str, int]] = {}
        self._done: dict[str, bool] = {}

    def progress(self) -> dict[str, Any]:
        """Rows merged per dataset and partition so far (safe to call from another thread while the run goes)."""
        rows = list(self._progress.items())
        return {"rows": {d: dict(p) for d, p in rows}, "done": dict(self._done)}

    def run(self, datasets: list[str], incremental: bool) -> tuple[int, list[DatasetSummary]]:
        configs = [self._catalog[name] for name in datasets]
        with ingestion_run(
            self._database_url,
            incremental=incremental,
            source_url=self._source.base_url,
            datasets=datasets,
            catalog=self._catalog,
        ) as (conn, run_id, summaries):
            self._run(conn, run_id, configs, incremental, summaries)
        return run_id, list(summaries.values())

    def _run(
        self,
        conn: psycopg.Connection,
        run_id: int,
        configs: list[DatasetConfig],
        incremental: bool,
        summaries: dict[str, DatasetSummary],
    ) -> None:
        self._run_id = run_id
        started = {c.name: time.perf_counter() for c in configs}
        queue: deque[PartitionTask] = deque()
        remaining: dict[str, int] = {}
        for config in configs:
            self._progress[config.name] = {}
            self._done[config.name] = False
            summary = summaries[config.name]
            try:
                tasks = pipeline.plan_or_skip(
                    conn, self._source, config, summary, incremental=incremental,
                    whole_read_days=self._guards.whole_read_days,
                )  # fmt: skip
            except (SchemaDriftError, SourceUnavailableError) as error:
                summary.error = str(error)
                self._done[config.name] = True
                continue
            if summary.unchanged_since is not None:  # not read: nothing to fetch, nothing to reconcile
                summary.seconds = time.perf_counter() - started[config.name]
                self._done[config.name] = True
                continue
            remaining[config.name] = len(tasks)
            queue.extend(tasks)
        queue = deque(pipeline.largest_first(conn, queue))

        active: dict[Any, _Partition] = {}  # handle in flight -> its partition
        partitions: list[_Partition] = []
        while queue or partitions or active:
            while queue and len(partitions) < self._shape.active_partitions:
                task = queue.popleft()
                if summaries[task.dataset].error:
                    remaining[task.dataset] -= 1
                    continue
                part = self._start(task, len(partitions) + len(queue))
                partitions.append(part)
                self._submit_fetch(part, active)
            if not active:
                break
            handle = self._stages.wait_any(list(active))
            part = active.pop(handle)
            summary = summaries[part.task.dataset]
            if handle is part.finish:
                try:
                    self._stages.value(handle)
                except StageError as error:
                    summary.error = summary.error or str(error.cause)
                self._partition_done(conn, part, summary, remaining, started)
                continue
            try:
                if handle is part.fetch:
                    self._on_fetched(part, handle, run_id, summary, active)
                else:
                    self._on_committed(part, handle, run_id, summary, active)
            except StageError as error:
                if not isinstance(error.cause, DATASET_ERRORS):
                    raise error.cause from error
                summary.error = summary.error or str(error.cause)
                part.exhausted, part.wants_fetch = True, False
                part.to_commit.clear()  # pages after a failed one would be refused as out of order anyway
                log.error("dataset failed", extra={"dataset": part.task.dataset, "error": str(error.cause)})
            if part.exhausted and part.fetch is None and not part.uncommitted_pages:
                partitions.remove(part)  # its slot goes to the next partition now
                if summary.error:
                    self._partition_done(conn, part, summary, remaining, started)
                else:
                    # Not waited for here: behind a busy writer's queue that stalled every other partition.
                    part.finish = self._stages.finish_partition(part.task, run_id)
                    active[part.finish] = part

        for name in remaining:
            if not self._done[name]:  # a failed dataset's partitions were dropped before the last one finished
                self._finish_dataset(conn, name, summaries[name], started)

    def _partition_done(
        self,
        conn: psycopg.Connection,
        part: _Partition,
        summary: DatasetSummary,
        remaining: dict[str, int],
        started: dict[str, float],
    ) -> None:
        remaining[part.task.dataset] -= 1
        if remaining[part.task.dataset] == 0:
            self._finish_dataset(conn, part.task.dataset, summary, started)

    def _start(self, task: PartitionTask, index: int) -> _Partition:
        lane = BOROUGH_PARTITIONS.index(task.partition) if task.partition in BOROUGH_PARTITIONS else index % 5
        self._progress[task.dataset].setdefault(task.partition, 0)
        return _Partition(task, lane, task.cursor, task.rows_committed)

    def _submit_fetch(self, part: _Partition, active: dict[Any, _Partition]) -> None:
        part.fetch, part.fetch_batch = self._stages.fetch_normalized(
            part.task, part.cursor, self._shape.page_size, part.lane
        )
        part.fetch_after = part.cursor
        part.wants_fetch = False
        active[part.fetch] = part

    def _on_fetched(
        self, part: _Partition, handle: Any, run_id: int, summary: DatasetSummary, active: dict[Any, _Partition]
    ) -> None:
        batch = part.fetch_batch
        part.fetch = part.fetch_batch = None
        meta: PageMeta = self._stages.value(handle)
        summary.fetched += meta.rows
        if meta.rows:
            part.committed_rows += meta.rows
            part.to_commit.append((batch, part.fetch_after, meta, part.committed_rows))
            self._submit_commit(part, run_id, active)
        if meta.rows < self._shape.page_size or meta.last_row is None:
            part.exhausted = True
            return
        part.cursor = cursor_after(meta.last_row, part.task.incremental)
        if part.uncommitted_pages < self._shape.pages_in_flight:
            self._submit_fetch(part, active)
        else:
            part.wants_fetch = True  # backpressure: fetch again when a commit lands

    def _submit_commit(self, part: _Partition, run_id: int, active: dict[Any, _Partition]) -> None:
        """The partition's next fetched page goes to its writer once the one before it has committed: the
        writer runs pages of different partitions at once, and a page must never overtake its predecessor."""
        if part.commit is not None or not part.to_commit:
            return
        batch, read_after, meta, committed_rows = part.to_commit.popleft()
        part.commit = self._stages.commit(batch, part.task, read_after, meta, committed_rows, run_id)
        active[part.commit] = part

    def _on_committed(
        self, part: _Partition, handle: Any, run_id: int, summary: DatasetSummary, active: dict[Any, _Partition]
    ) -> None:
        part.commit = None
        stats: WriteStats = self._stages.value(handle)
        summary.add_stats(stats)
        self._progress[part.task.dataset][part.task.partition] += stats.inserted + stats.updated + stats.unchanged
        self._submit_commit(part, run_id, active)
        if part.wants_fetch and part.fetch is None:
            self._submit_fetch(part, active)

    def _finish_dataset(
        self, conn: psycopg.Connection, name: str, summary: DatasetSummary, started: dict[str, float]
    ) -> None:
        if not summary.error:
            try:
                finish_dataset(conn, self._source, self._catalog[name], summary, self._run_id, self._guards)
            except (SchemaDriftError, SourceUnavailableError) as error:
                summary.error = str(error)
        summary.seconds = time.perf_counter() - started[name]
        self._done[name] = True


def partition_label(partition: str) -> str:
    names = {"1": "Manhattan", "2": "Bronx", "3": "Brooklyn", "4": "Queens", "5": "Staten Island"}
    return names.get(partition, "other" if partition == OTHER_PARTITION else partition)
