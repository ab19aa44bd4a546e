"""Ingestion on Ray: fetcher actors page partitions in parallel, borough normalizers normalize, writers
COPY and merge (actors/fetcher.py, normalizer.py, writer.py), and the coordinator here runs the run's flow
(sentinel/ingest/flow.py: plan, keep the pipeline full but bounded, report progress) over them.

Every actor is a thin shell over sentinel.ingest / sentinel.normalize. A page crosses the pipeline as bytes: the
JSON the source sent (fetcher -> normalizer), then COPY text (normalizer -> writer), never as pickled row objects.
The fetcher does not parse the page: the normalizer, which parses it anyway, reports where it ends (`PageMeta`),
and the coordinator fetches the next page from there. Fetches and normalizations are pure reads,
so their actors restart and retry a lost call (`max_task_retries`); a page's write commits its rows and its
watermark together, so a killed run resumes after its last committed page, and a write retried after its reply
was lost finds its page committed and writes nothing. Retries are unlimited: a lost node's actors are unreachable
until Ray has declared the node dead and restarted them elsewhere, seconds in which a bounded count of retries
ran out (tests/multinode/test_ingest_node_loss.py). The stage actors ask for 0.1 CPU:
they mostly wait on HTTP and PostgreSQL, and small shares let the whole pipeline be placed on a 2-CPU Ray (an
actor Ray cannot place leaves its partitions waiting forever).
"""

from __future__ import annotations

from typing import Any

import ray
from ray.exceptions import RayTaskError

from actors.fetcher import Fetcher
from actors.normalizer import BoroughNormalizer
from actors.writer import Writer
from sentinel.datasets import DatasetConfig, load_datasets
from sentinel.ingest.flow import BOROUGH_PARTITIONS, PipelineFlow, PipelineShape, StageError
from sentinel.ingest.pages import PageMeta
from sentinel.ingest.pipeline import DatasetSummary, Guards, PartitionTask
from sentinel.ingest.socrata import Cursor, SocrataSource


class RayStages:
    """The flow's stages as actor calls; a handle is an ObjectRef."""

    def __init__(
        self, database_url: str, source_url: str, app_token: str | None, shape: PipelineShape, catalog: dict
    ) -> None:
        # Spread over the nodes, not packed on the first that fits (Ray's default): a lost node then takes only
        # its share of the stages, and fetching and normalizing use every node's network and cores.
        fetcher = Fetcher.options(max_concurrency=shape.fetch_threads, scheduling_strategy="SPREAD")
        self.fetchers = [fetcher.remote(source_url, app_token) for _ in range(shape.fetchers)]
        normalizer = BoroughNormalizer.options(scheduling_strategy="SPREAD")
        self.normalizers = [normalizer.remote(catalog) for _ in range(min(shape.normalizers, len(BOROUGH_PARTITIONS)))]
        writer = Writer.options(max_concurrency=shape.write_connections, scheduling_strategy="SPREAD")
        self.writers = [writer.remote(database_url) for _ in range(shape.writers)]
        self._next_fetcher = 0

    def fetch_normalized(self, task: PartitionTask, cursor: Cursor | None, limit: int, lane: int) -> tuple[Any, Any]:
        fetcher = self.fetchers[self._next_fetcher % len(self.fetchers)]
        self._next_fetcher += 1
        body = fetcher.fetch.remote(task, cursor, limit)
        # A borough's pages always go to the same normalizer, which runs its calls in order.
        return self.normalizers[lane % len(self.normalizers)].normalize.remote(task.dataset, body)

    def _writer(self, task: PartitionTask) -> Any:
        return self.writers[hash((task.dataset, task.partition)) % len(self.writers)]

    def commit(
        self, batch: Any, task: PartitionTask, read_after: Cursor | None, meta: PageMeta, rows_committed: int,
        run_id: int,
    ) -> Any:  # fmt: skip
        return self._writer(task).commit.remote(batch, task, read_after, meta, rows_committed, run_id)

    def finish_partition(self, task: PartitionTask, run_id: int) -> Any:
        return self._writer(task).finish_partition.remote(task, run_id)

    def wait_any(self, handles: list[Any]) -> Any:
        return ray.wait(handles, num_returns=1)[0][0]

    def value(self, handle: Any) -> Any:
        try:
            return ray.get(handle)
        except RayTaskError as error:
            raise StageError(error.cause if error.cause is not None else error) from error


@ray.remote(num_cpus=0, max_concurrency=4)
class IngestCoordinator:
    """Runs the flow (plans partitions, drives fetch -> normalize -> commit, reports progress) over the actors."""

    def __init__(
        self,
        database_url: str,
        source_url: str,
        app_token: str | None = None,
        shape: PipelineShape | None = None,
        catalog: dict[str, DatasetConfig] | None = None,
        guards: Guards | None = None,
    ):
        shape = shape or PipelineShape()
        catalog = catalog or load_datasets()
        self._stages = RayStages(database_url, source_url, app_token, shape, catalog)
        source = SocrataSource(source_url, app_token)
        self._flow = PipelineFlow(self._stages, database_url, source, shape, catalog, guards or Guards())

    def progress(self) -> dict[str, Any]:
        return self._flow.progress()

    def actors(self) -> dict[str, list[Any]]:
        stages = self._stages
        return {"fetchers": stages.fetchers, "normalizers": list(stages.normalizers), "writers": stages.writers}

    def run(self, datasets: list[str], incremental: bool) -> tuple[int, list[DatasetSummary]]:
        return self._flow.run(datasets, incremental)
