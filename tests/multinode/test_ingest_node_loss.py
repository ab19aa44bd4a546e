"""Ingestion with its stage actors spread over two worker nodes, one of which is lost mid-run: Ray restarts the
lost fetchers, normalizers and writers on the node that is left, lost pages are fetched and normalized again, and
the tables end exactly as the serial reference writes them (which the one-node Ray pipeline is tested to equal,
tests/ingest/test_ray_pipeline.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.ingestion import IngestCoordinator
from citysim.replay.faults import FaultConfig
from citysim.replay.server import ReplayServer, serve_in_background
from citysim.synth.city import write_city
from citysim.synth.config import SynthConfig
from sentinel.datasets import load_datasets
from sentinel.ingest.flow import PipelineShape
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from tests.conftest import drop_database, migrated_database
from tests.ingest.conftest import count, table_checksums
from tests.multinode.conftest import MultiNodeRay, full_size, node_of, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.multinode]

ALL = list(load_datasets())
SHAPE = PipelineShape(page_size=100, active_partitions=4)


@pytest.fixture(scope="module")
def city_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplayServer]:
    out = tmp_path_factory.mktemp("city")
    buildings = 600 if full_size() else 150
    write_city(SynthConfig(buildings=buildings, start=date(2023, 1, 1), end=date(2025, 6, 30), seed=3), out)
    with serve_in_background(Path(out)) as server:
        yield server


@pytest.fixture
def databases(pg_admin_url: str) -> Iterator[tuple[str, str]]:
    """(the serial reference's database, the multi-node run's database)"""
    made = [migrated_database(pg_admin_url, prefix="vs_multinode") for _ in range(2)]
    yield made[0][2], made[1][2]
    for name, _, _ in made:
        drop_database(pg_admin_url, name)


def committed_rows(url: str) -> int:
    return count(url, "SELECT coalesce(sum(rows_committed), 0) FROM watermarks")


def test_losing_a_worker_node_mid_run_leaves_the_tables_equal_to_the_serial_reference(
    multinode: MultiNodeRay, city_server: ReplayServer, databases: tuple[str, str]
) -> None:
    reference_url, url = databases
    run_serial(reference_url, SocrataSource(city_server.url), RunOptions(ALL, incremental=False, page_size=100))
    expected = table_checksums(reference_url)
    total = committed_rows(reference_url)

    nodes = {multinode.add_node("node_a", cpus=2): "node_a", multinode.add_node("node_b", cpus=2): "node_b"}
    head = ray.get_runtime_context().get_node_id()
    city_server.set_faults(FaultConfig(latency_ms=30))  # a run long enough to lose a node in the middle of
    try:
        # The coordinator lives beside the driver (cluster/ingest.py puts it there too): it is the run.
        coordinator = IngestCoordinator.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(head, soft=False)
        ).remote(url, city_server.url, None, SHAPE)
        run = coordinator.run.remote(ALL, False)
        actors = [a for group in ray.get(coordinator.actors.remote(), timeout=120).values() for a in group]
        placed = Counter(node_of(actor) for actor in actors)
        assert set(placed) == set(nodes), placed  # the stage actors span both worker nodes, none on the head

        wait_until(lambda: committed_rows(url) > total // 5, 300, "a fifth of the rows to commit")
        lost = max(placed, key=placed.__getitem__)
        multinode.remove_node(nodes[lost])
        assert committed_rows(url) < total, "the run ended before the node was lost"

        _, summaries = ray.get(run, timeout=900)
        survivors = {node_of(actor) for actor in actors}  # before the coordinator, their owner, goes
        ray.kill(coordinator)
    finally:
        city_server.set_faults(FaultConfig())
    assert not [s.error for s in summaries if s.error]
    assert table_checksums(url) == expected
    assert survivors == set(nodes) - {lost}
