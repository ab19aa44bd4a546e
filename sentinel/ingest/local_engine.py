"""The ingestion flow (sentinel/ingest/flow.py) on this machine's processes, without Ray: a one-off load on one
machine, where starting a Ray of its own costs the load its daemons' memory and CPU (benchmarks/RESULTS.md,
"Load efficiency against nycdb").

Fetching is waiting, so it runs in threads of this process; normalizing is the CPU work, in one process per
configured normalizer (sentinel/ingest/normalizer_process.py, which imports only what normalizing needs);
writing runs in threads, one PostgreSQL connection each (sentinel/ingest/page_committer.py). A handle is a
`concurrent.futures.Future`. The pages' order, the bound on pages in flight and resuming after the last committed
page are the flow's, as on Ray.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ThreadPoolExecutor, wait
from typing import Any

from sentinel.datasets import DatasetConfig
from sentinel.ingest.flow import BOROUGH_PARTITIONS, PipelineFlow, PipelineShape, StageError
from sentinel.ingest.normalizer_process import NormalizerPool
from sentinel.ingest.page_committer import PageCommitter
from sentinel.ingest.page_fetcher import PageFetcher
from sentinel.ingest.pages import PageMeta
from sentinel.ingest.pipeline import DatasetSummary, Guards, PartitionTask
from sentinel.ingest.socrata import Cursor, SocrataSource

PROGRESS_EVERY_S = 0.25


def _error_of(done: Future) -> BaseException | None:
    """What a finished future failed with (a cancelled one: its cancellation), None if it succeeded."""
    return CancelledError() if done.cancelled() else done.exception()


class LocalStages:
    """Stages on thread and process pools; close it (a context manager) to stop them and their connections."""

    def __init__(
        self, database_url: str, source_url: str, app_token: str | None, shape: PipelineShape,
        catalog: dict[str, DatasetConfig],
    ) -> None:  # fmt: skip
        self._fetcher = PageFetcher(source_url, app_token)
        self._fetching = ThreadPoolExecutor(shape.fetchers * shape.fetch_threads, thread_name_prefix="vs-fetch")
        self._normalizing = NormalizerPool(min(shape.normalizers, len(BOROUGH_PARTITIONS)), catalog)
        self._writing = ThreadPoolExecutor(shape.writers * shape.write_connections, thread_name_prefix="vs-write")
        self._committer = PageCommitter(database_url)
        # Pages fetched and not yet normalized, held here until their normalizer answers: one at work per
        # normalizer and one waiting keep them busy; the flow's bound (partitions x pages in flight) is for the
        # pages waiting to commit, and would hold ten bodies here at once.
        self._bodies = threading.BoundedSemaphore(self._normalizing.size + 1)

    def __enter__(self) -> LocalStages:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._fetching.shutdown(wait=True, cancel_futures=True)
        self._normalizing.close()
        self._writing.shutdown(wait=True, cancel_futures=True)
        self._committer.close()

    def _fetch(self, task: PartitionTask, cursor: Cursor | None, limit: int) -> bytes:
        """The page's body, holding one of `_bodies` (released once it is normalized) when it returns."""
        self._bodies.acquire()
        try:
            return self._fetcher.fetch(task, cursor, limit)
        except BaseException:
            self._bodies.release()
            raise

    def fetch_normalized(
        self, task: PartitionTask, cursor: Cursor | None, limit: int, lane: int
    ) -> tuple[Future, Future]:
        meta: Future = Future()
        batch: Future = Future()

        def failed(error: BaseException) -> None:
            batch.set_exception(error)
            meta.set_exception(error)

        def normalized(done: Future) -> None:
            self._bodies.release()
            error = _error_of(done)
            if error is not None:
                return failed(error)
            page_meta, copy_batch = done.result()
            batch.set_result(copy_batch)  # before the meta: the flow commits the batch once it has the meta
            meta.set_result(page_meta)

        def fetched(done: Future) -> None:
            error = _error_of(done)
            if error is not None:
                return failed(error)
            self._normalizing.submit(task.dataset, done.result()).add_done_callback(normalized)

        self._fetching.submit(self._fetch, task, cursor, limit).add_done_callback(fetched)
        return meta, batch

    def commit(
        self, batch: Future, task: PartitionTask, read_after: Cursor | None, meta: PageMeta, rows_committed: int,
        run_id: int,
    ) -> Future:  # fmt: skip
        return self._writing.submit(
            lambda: self._committer.commit(batch.result(), task, read_after, meta, rows_committed, run_id)
        )

    def finish_partition(self, task: PartitionTask, run_id: int) -> Future:
        return self._writing.submit(self._committer.finish_partition, task, run_id)

    def wait_any(self, handles: list[Future]) -> Future:
        wait(handles, return_when=FIRST_COMPLETED)
        return next(h for h in handles if h.done())

    def value(self, handle: Future) -> Any:
        try:
            return handle.result()
        except Exception as error:
            raise StageError(error) from error


def run_local(
    *,
    database_url: str,
    source_url: str,
    app_token: str | None,
    datasets: list[str],
    incremental: bool,
    shape: PipelineShape,
    guards: Guards,
    catalog: dict[str, DatasetConfig],
    watch: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[int, list[DatasetSummary]]:
    """One run on this machine's processes; `watch` gets the flow's progress every quarter second meanwhile."""
    with LocalStages(database_url, source_url, app_token, shape, catalog) as stages:
        flow = PipelineFlow(stages, database_url, SocrataSource(source_url, app_token), shape, catalog, guards)
        if watch is None:
            return flow.run(datasets, incremental)
        outcome: dict[str, Any] = {}

        def drive() -> None:
            try:
                outcome["result"] = flow.run(datasets, incremental)
            except BaseException as error:
                outcome["error"] = error

        runner = threading.Thread(target=drive, name="vs-ingest-flow", daemon=True)
        runner.start()
        while runner.is_alive():
            watch(flow.progress())
            runner.join(PROGRESS_EVERY_S)
        watch(flow.progress())
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]
