"""The writer actor: commits a page (its rows, rejects and watermark in one transaction) and finishes partitions:
`sentinel.ingest.page_committer.PageCommitter` as a Ray actor."""

from __future__ import annotations

import ray

from sentinel.ingest.page_committer import PageCommitter


@ray.remote(num_cpus=0.1, max_restarts=-1, max_task_retries=-1)
class Writer(PageCommitter):
    """Runs as a threaded actor (`max_concurrency` = connections): each thread commits on its own connection.
    Ray does not order a threaded actor's calls, so the coordinator sends a partition's next page only after
    the one before it committed."""
