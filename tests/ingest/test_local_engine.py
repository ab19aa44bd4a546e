"""The local engine (the flow on this machine's processes, no Ray) against the serial reference, and the faults it
must survive (real PostgreSQL, HTTP and normalizer processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import psutil
import psycopg
import pytest

from citysim.replay.faults import FaultConfig
from sentinel.ingest.flow import PipelineShape
from tests.ingest.conftest import (
    committed_rows,
    count,
    normalizer_processes,
    pipeline_run,
    runs_through_dropped_writer_connections,
    table_checksums,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def local_run(url, server, **kwargs):
    return pipeline_run(url, server, engine="local", **kwargs)


def test_the_local_engine_writes_exactly_what_the_serial_reference_writes(city_server, make_db, reference):
    url = make_db()
    result = local_run(url, city_server)
    assert not result.failed
    assert table_checksums(url) == reference.checksums
    counts = {s.dataset: (s.fetched, s.inserted, s.rejected, s.skipped) for s in result.summaries}
    assert counts == reference.counts

    again = local_run(url, city_server, incremental=True)
    assert not again.failed
    assert sum(s.inserted + s.updated for s in again.summaries) == 0
    assert table_checksums(url) == reference.checksums


def test_one_normalizer_and_one_write_connection_give_the_same_tables(city_server, make_db, reference):
    url = make_db()
    narrow = PipelineShape(page_size=250, normalizers=1, fetch_threads=1, write_connections=1, active_partitions=1)
    assert not local_run(url, city_server, shape=narrow).failed
    assert table_checksums(url) == reference.checksums


def test_a_fifth_of_responses_429_or_503_still_completes_exactly(city_server, make_db, reference):
    url = make_db()
    city_server.set_faults(FaultConfig(rates={429: 0.1, 503: 0.1}, seed=11))
    result = local_run(url, city_server)
    assert not result.failed
    assert table_checksums(url) == reference.checksums


def test_dropped_database_connections_fail_cleanly_and_a_rerun_completes(city_server, make_db, reference):
    url = make_db()
    runs_through_dropped_writer_connections(url, city_server, reference, lambda: local_run(url, city_server))


def test_killed_normalizer_processes_are_replaced_and_the_result_is_unchanged(city_server, make_db, reference):
    url = make_db()
    city_server.set_faults(FaultConfig(latency_ms=20))
    killed: list[int] = []

    def kill_normalizers():
        for threshold in (300, 1500):
            wait_for(lambda t=threshold: committed_rows(url) > t and normalizer_processes())
            victim = normalizer_processes()[0]
            killed.append(victim.pid)
            victim.kill()

    killer = threading.Thread(target=kill_normalizers, daemon=True)
    killer.start()
    result = local_run(url, city_server)
    killer.join(10)
    assert len(killed) == 2
    assert not result.failed
    assert table_checksums(url) == reference.checksums
    assert not normalizer_processes()  # the pool ended its processes with the run


def test_the_cli_killed_mid_run_then_rerun_equals_a_clean_run_and_starts_no_ray(
    city_server, make_db, reference, tmp_path
):
    url = make_db()
    city_server.set_faults(FaultConfig(latency_ms=25))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VS_", "RAY_"))}
    env.update(VS_DATABASE_URL=url, VS_REDIS_URL="redis://127.0.0.1:6379/0", VS_DATA_DIR=str(tmp_path),
               VS_INGEST_ENGINE="local")  # fmt: skip
    command = [sys.executable, "-m", "cluster.cli", "ingest", "--full", "--source", city_server.url, "--page-size",
               "100"]  # fmt: skip
    driver = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)  # fmt: skip
    try:
        wait_for(lambda: committed_rows(url) > 500, timeout=180)
        wait_for(lambda: len(normalizer_processes(driver.pid)) == 2)
        normalizers = normalizer_processes(driver.pid)
        tree = [driver.pid, *(p.pid for p in psutil.Process(driver.pid).children(recursive=True))]
        names = [" ".join(psutil.Process(pid).cmdline()) for pid in tree if psutil.pid_exists(pid)]
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(30)
    assert len(normalizers) == 2 and len(names) == 3, names  # the CLI and its two normalizers, nothing else
    assert not [n for n in names if "raylet" in n or "gcs_server" in n or "ray::" in n], names
    assert count(url, "SELECT count(*) FROM ingestion_runs WHERE status = 'running'") == 1

    city_server.set_faults(FaultConfig())
    rerun = subprocess.run([*command, "--engine", "local"], env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert table_checksums(url) == reference.checksums
    statuses = [r[0] for r in psycopg.connect(url).execute("SELECT status FROM ingestion_runs ORDER BY id")]
    assert statuses == ["failed", "succeeded"]


def test_an_unknown_engine_is_refused_before_anything_runs(make_db, tmp_path):
    url = make_db()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VS_")}
    env.update(VS_DATABASE_URL=url, VS_REDIS_URL="redis://127.0.0.1:6379/0", VS_DATA_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "cluster.cli", "ingest", "--engine", "spark"], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert "unknown engine 'spark'; known: ray, local" in done.stdout + done.stderr
    assert count(url, "SELECT count(*) FROM ingestion_runs") == 0
