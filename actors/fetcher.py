"""Fetcher actors: page a partition from the source and pass the bytes on, unparsed (the normalizer parses):
`sentinel.ingest.page_fetcher.PageFetcher` as a Ray actor."""

from __future__ import annotations

import ray

from sentinel.ingest.page_fetcher import PageFetcher


@ray.remote(num_cpus=0.1, max_restarts=-1, max_task_retries=-1)
class Fetcher(PageFetcher):
    """Runs `fetch_threads` requests at once (a threaded actor); each thread has its own HTTP session."""
