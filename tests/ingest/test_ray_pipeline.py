"""The Ray pipeline against the serial reference, and the faults it must survive (real Ray, PostgreSQL, HTTP)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psycopg
import pytest
import ray

from citysim.replay.faults import FaultConfig
from cluster.ingest import kept_pipeline, stop_pipeline
from sentinel.datasets import load_datasets
from tests.ingest.conftest import (
    PIPELINE_SHAPE,
    committed_rows,
    count,
    pipeline_run,
    runs_through_dropped_writer_connections,
    table_checksums,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ALL = list(load_datasets())


def ray_run(url, server, **kwargs):
    return pipeline_run(url, server, engine="ray", **kwargs)


def test_the_ray_pipeline_writes_exactly_what_the_serial_reference_writes(ray_cluster, city_server, make_db, reference):
    url = make_db()
    result = ray_run(url, city_server)
    assert not result.failed
    assert table_checksums(url) == reference.checksums
    counts = {s.dataset: (s.fetched, s.inserted, s.rejected, s.skipped) for s in result.summaries}
    assert counts == reference.counts


def test_a_kept_pipeline_runs_the_next_ingestion_on_the_same_actors(ray_cluster, city_server, make_db, reference):
    url = make_db()
    assert not ray_run(url, city_server, keep_pipeline=True).failed
    coordinator = kept_pipeline(url, city_server.url, None, PIPELINE_SHAPE)
    writers = [a._actor_id for a in ray.get(coordinator.actors.remote())["writers"]]

    again = ray_run(url, city_server, keep_pipeline=True, incremental=True)
    assert not again.failed
    assert sum(s.inserted + s.updated for s in again.summaries) == 0
    assert table_checksums(url) == reference.checksums
    same = kept_pipeline(url, city_server.url, None, PIPELINE_SHAPE)
    assert same._actor_id == coordinator._actor_id
    assert [a._actor_id for a in ray.get(same.actors.remote())["writers"]] == writers

    assert stop_pipeline(url, city_server.url, None, PIPELINE_SHAPE)
    assert kept_pipeline(url, city_server.url, None, PIPELINE_SHAPE) is None

    def dead() -> bool:  # ray.kill is asynchronous: a call may still be answered just after it
        try:
            ray.get(coordinator.progress.remote(), timeout=10)
        except ray.exceptions.RayActorError:
            return True
        return False

    wait_for(dead, timeout=60)
    assert not stop_pipeline(url, city_server.url, None, PIPELINE_SHAPE)


def test_killed_fetcher_and_normalizer_actors_do_not_change_the_result(ray_cluster, city_server, make_db, reference):
    from actors.ingestion import IngestCoordinator

    url = make_db()
    city_server.set_faults(FaultConfig(latency_ms=20))
    coordinator = IngestCoordinator.remote(url, city_server.url, None, PIPELINE_SHAPE)
    run = coordinator.run.remote(ALL, False)
    actors = ray.get(coordinator.actors.remote())
    wait_for(lambda: committed_rows(url) > 300)
    ray.kill(actors["fetchers"][0], no_restart=False)
    ray.kill(actors["normalizers"][0], no_restart=False)
    wait_for(lambda: committed_rows(url) > 1500)
    ray.kill(actors["fetchers"][-1], no_restart=False)  # the only fetcher by default: killed a second time
    ray.kill(actors["normalizers"][-1], no_restart=False)  # the other of the two by default
    _, summaries = ray.get(run, timeout=300)
    ray.kill(coordinator)
    assert not [s for s in summaries if s.error]
    assert table_checksums(url) == reference.checksums


def test_a_fifth_of_responses_429_or_503_still_completes_exactly(ray_cluster, city_server, make_db, reference):
    url = make_db()
    city_server.set_faults(FaultConfig(rates={429: 0.1, 503: 0.1}, seed=11))
    result = ray_run(url, city_server)
    assert not result.failed
    assert table_checksums(url) == reference.checksums


def test_dropped_database_connections_fail_cleanly_and_a_rerun_completes(ray_cluster, city_server, make_db, reference):
    url = make_db()
    runs_through_dropped_writer_connections(url, city_server, reference, lambda: ray_run(url, city_server))


def test_a_driver_killed_mid_run_then_rerun_equals_a_clean_run(city_server, make_db, reference, tmp_path):
    url = make_db()
    city_server.set_faults(FaultConfig(latency_ms=25))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VS_")}
    env.update(VS_DATABASE_URL=url, VS_REDIS_URL="redis://127.0.0.1:6379/0", VS_RAY_NUM_CPUS="2",
               VS_RAY_OBJECT_STORE_MB="100", VS_RAY_INCLUDE_DASHBOARD="false", VS_DATA_DIR=str(tmp_path))  # fmt: skip
    command = [
        sys.executable,
        "-m",
        "cluster.cli",
        "ingest",
        "--full",
        "--source",
        city_server.url,
        "--page-size",
        "100",
    ]
    driver = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)  # fmt: skip
    try:
        wait_for(lambda: committed_rows(url) > 500, timeout=180)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(30)
    # The kill landed mid-run: the run row was never closed and not every record was committed yet (a
    # partition that just finished and the next not yet started leave no incomplete watermark to look at).
    assert count(url, "SELECT count(*) FROM ingestion_runs WHERE status = 'running'") == 1
    assert committed_rows(url) < sum(fetched for fetched, *_ in reference.counts.values())

    city_server.set_faults(FaultConfig())
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert table_checksums(url) == reference.checksums
    statuses = [r[0] for r in psycopg.connect(url).execute("SELECT status FROM ingestion_runs ORDER BY id")]
    assert statuses == ["failed", "succeeded"]
