"""The writer actor: commits a page (its rows, rejects and watermark in one transaction) and finishes partitions,
through `sentinel.ingest.page_committer`."""

from __future__ import annotations

import ray

from sentinel.ingest.copy_batch import CopyBatch
from sentinel.ingest.page_committer import PageCommitter
from sentinel.ingest.pages import PageMeta
from sentinel.ingest.pipeline import PartitionTask
from sentinel.ingest.socrata import Cursor
from sentinel.ingest.writer import WriteStats


@ray.remote(num_cpus=0.1, max_restarts=-1, max_task_retries=-1)
class Writer:
    """Runs as a threaded actor (`max_concurrency` = connections): each thread commits on its own connection.
    Ray does not order a threaded actor's calls, so the coordinator sends a partition's next page only after
    the one before it committed."""

    def __init__(self, database_url: str):
        self._committer = PageCommitter(database_url)

    def commit(
        self,
        batch: CopyBatch,
        task: PartitionTask,
        read_after: Cursor | None,
        meta: PageMeta,
        rows_committed: int,
        run_id: int,
    ) -> WriteStats:
        return self._committer.commit(batch, task, read_after, meta, rows_committed, run_id)

    def finish_partition(self, task: PartitionTask, run_id: int) -> None:
        self._committer.finish_partition(task, run_id)
