"""A pipeline's fetches: a partition's page after a cursor, as the bytes the source sent (the normalizer parses
them), on one HTTP session per calling thread. The Ray fetcher actor (actors/fetcher.py) and the local engine's
fetch threads (sentinel/ingest/local_engine.py) both fetch through it."""

from __future__ import annotations

import threading

from sentinel.ingest.pipeline import PartitionTask
from sentinel.ingest.socrata import Cursor, SocrataSource


class PageFetcher:
    """Thread-safe: each thread has its own `SocrataSource` (and so its own session)."""

    def __init__(self, source_url: str, app_token: str | None) -> None:
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
