"""Every cluster command of the README ("Running on a cluster"), run as written against a local multi-node Ray
cluster: a head and a worker as two raylets (`ray start --head` and `ray start --address=... --resources=...`),
started the way ray-cluster.yaml starts nodes (in the venv, settings exported, `cluster.ray_runtime`'s environment),
with the shared PostgreSQL and Redis and an S3 bucket (moto's server, the real wire protocol) as the artifact store.

What differs from a real cluster, and why: both raylets share one host, so Serve's HTTP proxy runs on the head only
(two would bind the same port) on a free port, the scheduler gets a one-job schedule (the real one would start a
full ingestion against the internet and a weekly retraining), and the dashboard, GCS and client ports are free
ports rather than Ray's defaults, which another cluster on this host may hold.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
import yaml

from sentinel.artifact_store import S3Store
from sentinel.risk import registry
from sentinel.settings import REPO_ROOT
from tests.api import seed
from tests.conftest import drop_database, free_port, migrated_database
from tests.foundation.test_artifact_store import _save_baseline
from tests.multinode.conftest import full_size
from tests.s3 import running_s3

# With the multi-node tests at full size (`make multinode`): two `ray start` nodes, a Serve app and a job take about
# 1.5 minutes on 2 cores, which `make test` leaves to them (benchmarks/RESULTS.md, "Multi-node tests (issue 21)").
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.multinode,
    pytest.mark.skipif(
        not full_size(), reason="the README's cluster commands run with VS_MULTINODE=full (make multinode)"
    ),
]

README = REPO_ROOT / "README.md"
VENV_BIN = Path(sys.executable).parent
JWT_SECRET = "c7Qm-2ZpX9rLw4Ks8Vt1Nb6Hy3Jd5Fg0Ra"
DEADLINE_S = 300


def readme_cluster_commands() -> list[str]:
    """The commands of the README's bash block that follows "against the running cluster"."""
    section = README.read_text().split("## Running on a cluster", 1)[1]
    block = section.split("against the running cluster", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


@dataclass
class LocalCluster:
    gcs: int
    dashboard: int
    client: int
    serve: int
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]]
    temp_dir: str

    def substitute(self, command: str, serve_config: Path) -> str:
        command = command.replace("http://<head>:8265", f"http://127.0.0.1:{self.dashboard}")
        command = command.replace("<head>:6379", f"127.0.0.1:{self.gcs}")
        assert "<head>" not in command, command
        return command.replace("configs/serve.yaml", str(serve_config))


def _ray_start(args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    # As ray-cluster.yaml does: the venv's `ray`, the settings in the environment, cluster.ray_runtime's exports.
    script = f'eval "$(python -m cluster.ray_runtime)" && exec ray start --block --disable-usage-stats {args}'
    with log.open("wb") as out:
        return subprocess.Popen(
            ["bash", "-c", script], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to `ray start --block` ends its node; whatever of its session is left (a worker, HAProxy) is killed."""
    session = process.pid
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=60)
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
            if os.getsid(proc.pid) == session:
                proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def _alive_nodes(dashboard: int) -> int:
    try:
        body = httpx.get(f"http://127.0.0.1:{dashboard}/api/v0/nodes?limit=10", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return 0
    return sum(1 for node in body["data"]["result"]["result"] if node["state"] == "ALIVE")


def _poll(what: str, check, deadline_s: float = DEADLINE_S, logs: list[Path] | None = None):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    tails = "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-3000:]}" for p in logs or [] if p.exists())
    raise AssertionError(f"{what} within {deadline_s} s\n{tails}")


@pytest.fixture(scope="module")
def services(pg_admin_url: str, redis_url: str) -> Iterator[tuple[str, str, dict[str, str]]]:
    """A migrated database with four promoted (baseline) models in an S3 bucket and two buildings to score."""
    name, owner_url, app_url = migrated_database(pg_admin_url, "vs_test_cluster")
    with running_s3() as s3:
        root = s3.bucket("vs-cluster-models") + "/prod"
        store = S3Store(root, Path(tempfile.mkdtemp(prefix="vs-trainer-cache-")), s3.client())
        with psycopg.connect(owner_url) as conn, tempfile.TemporaryDirectory() as staging:
            for kind in registry.SCORE_KINDS:
                uri = store.put_dir(_save_baseline(Path(staging), kind, "v-cluster"), f"v-cluster/{kind}")
                registry.register(conn, kind, "v-cluster", uri, {}, {}, scorer="baseline")
                registry.promote(conn, kind, "v-cluster")
            for bbl, address in (("1000010001", "1 CLUSTER PLACE"), ("1000010002", "2 CLUSTER PLACE")):
                seed.add_property(conn, bbl, address)
                seed.add_violation(conn, bbl)
            conn.commit()
        yield owner_url, app_url, {**s3.env, "VS_ARTIFACT_STORE": root}
    drop_database(pg_admin_url, name)


@pytest.fixture(scope="module")
def local_cluster(services, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    _, app_url, storage_env = services
    logs = tmp_path_factory.mktemp("cluster-logs")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VS_", "RAY_", "AWS_"))}
    env = {
        **base,
        "PATH": f"{VENV_BIN}{os.pathsep}{base.get('PATH', '')}",  # `source .venv/bin/activate`
        "VIRTUAL_ENV": str(VENV_BIN.parent),
        "RAY_AUTH_MODE": "disabled",  # a loopback-only test cluster; a real one keeps its token (README)
        "VS_DATABASE_URL": app_url,
        "VS_REDIS_URL": redis_url,
        "VS_JWT_SECRET": JWT_SECRET,
        "VS_SOCRATA_URL": "http://127.0.0.1:9",  # nothing here may reach the internet; the schedule ingests nothing
        "VS_DATA_DIR": str(tmp_path_factory.mktemp("node-data")),
        **storage_env,
    }
    gcs, dashboard, client, serve_port = free_port(), free_port(), free_port(), free_port()
    temp_dir = tempfile.mkdtemp(prefix="vsr-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    head = _ray_start(
        f"--head --port={gcs} --dashboard-host=127.0.0.1 --dashboard-port={dashboard} --include-dashboard=true "
        f"--ray-client-server-port={client} --num-cpus=1 --object-store-memory=120000000 --temp-dir={temp_dir} "
        f"--dashboard-agent-listen-port={free_port()} --metrics-export-port={free_port()}",
        env,
        logs / "head.log",
    )
    cluster = LocalCluster(gcs, dashboard, client, serve_port, env, [head], temp_dir)
    try:
        _poll("the head's dashboard answering", lambda: _alive_nodes(dashboard) == 1, logs=[logs / "head.log"])
        worker = _ray_start(
            f"--address=127.0.0.1:{gcs} --num-cpus=3 --resources='{{\"worker\": 1}}' --object-store-memory=120000000 "
            f"--temp-dir={temp_dir} --dashboard-agent-listen-port={free_port()} --metrics-export-port={free_port()}",
            env,
            logs / "worker.log",
        )
        cluster.processes.append(worker)
        _poll("two raylets alive", lambda: _alive_nodes(dashboard) == 2, logs=[logs / "worker.log"])
        yield cluster
    finally:
        for process in reversed(cluster.processes):
            _stop(process)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _serve_config(cluster: LocalCluster, directory: Path) -> Path:
    config = yaml.safe_load((REPO_ROOT / "configs" / "serve.yaml").read_text())
    config["http_options"]["port"] = cluster.serve
    config["proxy_location"] = "HeadOnly"
    schedules = directory / "schedules.yaml"
    schedules.write_text(yaml.safe_dump({"jobs": {"time_alerts": {"cron": "* * * * *", "kind": "time_alerts"}}}))
    (scheduler,) = [app for app in config["applications"] if app["name"] == "scheduler"]
    scheduler["args"] = {"schedules": str(schedules)}
    path = directory / "serve.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _run(command: str, env: dict[str, str], timeout: float = DEADLINE_S) -> subprocess.CompletedProcess[str]:
    words = shlex.split(command)
    extra = {}
    while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
        key, _, value = words.pop(0).partition("=")
        extra[key] = value
    return subprocess.run(
        words, cwd=REPO_ROOT, env={**env, **extra}, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_every_readme_cluster_command_works_on_a_two_node_cluster(local_cluster, services, tmp_path):
    _, app_url, _ = services
    commands = readme_cluster_commands()
    assert [c.split()[0] for c in commands] == [
        "ray",
        "serve",
        "serve",
        "VS_RAY_ADDRESS=<head>:6379",
        "vsentinel",
    ]
    serve_config = _serve_config(local_cluster, tmp_path)
    env = {**local_cluster.env, "VS_DATA_DIR": str(tmp_path / "driver")}
    for command in commands:
        if command.startswith("serve status"):
            _poll(
                "both Serve applications RUNNING", lambda c=command: _serve_running(c, local_cluster, serve_config, env)
            )
        try:
            result = _run(local_cluster.substitute(command, serve_config), env)
            if command.startswith("serve deploy") and "ActorDiedError" in result.stderr:
                # Seen once on a loaded machine: Serve's first start lost its HTTP proxy actor ("killed by
                # ray.kill") while `serve deploy` waited for it. Ray's race, not the app's; the same command again.
                result = _run(local_cluster.substitute(command, serve_config), env)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{command} timed out\n{_cluster_logs(local_cluster)}") from None
        output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        assert result.returncode == 0, f"{command}\n{output}\n{_cluster_logs(local_cluster)}"

    # The job ran on the cluster with the head's settings: the shared database, models read from the bucket.
    with psycopg.connect(app_url) as conn:
        scored = conn.execute("SELECT count(*) FROM risk_scores WHERE model_versions->>'overall' = 'v-cluster'")
        assert scored.fetchone()[0] == 2
    # The API answers through the head's proxy; its replicas read the same settings and load the models from the
    # bucket (the scorer's readiness is the models' load).
    ready = httpx.get(f"http://127.0.0.1:{local_cluster.serve}/readyz", timeout=30).json()
    assert ready["status"] == "ready", ready
    assert ready["checks"]["scorer"]["model_ready"] is True
    # The scheduler application started the cluster's scheduler, which fired its job against the shared database.
    _poll("the scheduler's job succeeded", lambda: _scheduler_ran(app_url))


def _cluster_logs(cluster: LocalCluster) -> str:
    """The tails of the job drivers' and Serve's logs (the test's temporary Ray directory goes with the cluster)."""
    logs = Path(cluster.temp_dir) / "session_latest" / "logs"
    files = sorted([*logs.glob("job-driver-*"), *logs.glob("serve/controller_*.log"), *logs.glob("serve/*proxy*")])
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}" for p in files)


def _serve_running(command: str, cluster: LocalCluster, config: Path, env: dict[str, str]) -> bool:
    result = _run(cluster.substitute(command, config), env, timeout=60)
    status = yaml.safe_load(result.stdout or "{}") or {}
    apps = status.get("applications", {})
    return {name: app.get("status") for name, app in apps.items()} == {"vsentinel": "RUNNING", "scheduler": "RUNNING"}


def _scheduler_ran(app_url: str) -> bool:
    with psycopg.connect(app_url) as conn:
        row = conn.execute("SELECT outcome, detail FROM schedule_runs WHERE job = 'time_alerts' LIMIT 1").fetchone()
    assert row is None or row[0] != "failed", row
    return row is not None and row[0] == "succeeded"
