"""Fetcher actors: page a partition from the source and pass the bytes on, unparsed (the normalizer parses)."""

from __future__ import annotations

import threading

import ray

from sentinel.ingest.pipeline import PartitionTask
from sentinel.ingest.socrata import Cursor, SocrataSource


@ray.remote(num_cpus=0.1, max_restarts=-1, max_task_retries=-1)
class Fetcher:
    """Runs `fetch_threads` requests at once (a threaded actor); each thread has its own HTTP session."""

    def __init__(self, source_url: str, app_token: str | None):
        self._source_url, self._app_token = source_url, app_token
        self._local = threading.local()

    def _source(self) -> SocrataSource:
        source = getattr(self._local, "source", None)
        if source is None:
            source = self._local.source = SocrataSource(self._source_url, self._app_token)
        return source

    def fetch(self, task: PartitionTask, cursor: Cursor | None, limit: int) -> bytes:
        return self._source().page_body(
            task.socrata_id, where=task.where, cursor=cursor, incremental=task.incremental, limit=limit
        )
