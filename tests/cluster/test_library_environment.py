"""Library code leaves the process environment as it found it (issue 21: "no process-wide environment writes from
library code"). Starting a local Ray gives its processes their switches (token auth off, Serve's ingress, their
temp folder) for the `ray.init` only, and the embedded PostgreSQL gets its runtime dir for its import only; every
other process of the host, and this process's later subprocesses, see the environment the process started with.

Run in a fresh interpreter: the session's own Ray is already up, and the first import of each library is part of
what is checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, os, sys
import ray  # Ray's own import writes RAY_CLIENT_MODE: Ray's, not ours
before = dict(os.environ)

import actors.ingestion, cluster.ray_runtime as ray_runtime, deployments.app, sentinel.embedded as embedded
import training.distributed, training.ray_private, training.trial
from sentinel.settings import load_settings

imported = dict(os.environ)
info = ray_runtime.connect(load_settings(ray_num_cpus=1, ray_object_store_mb=80, ray_include_dashboard=False))
assert info.started_locally, info
# a worker of the local Ray got the switches this process no longer has
worker = ray.get(ray.remote(num_cpus=0.1)(lambda: dict(os.environ)).remote(), timeout=300)
connected = dict(os.environ)
ray_runtime.serve_environment_exports()
ray_runtime.shutdown()
with embedded.local_services(load_settings(data_dir=sys.argv[1], database_url=None, redis_url=None)) as services:
    assert services.embedded_postgres
print(json.dumps({"before": before, "imported": imported, "connected": connected, "after": dict(os.environ),
                  "worker": worker}))
"""


# What `ray.init` itself writes into its driver's environment (Ray's, not ours; Ray's import adds RAY_CLIENT_MODE,
# which is why the script takes its first look after `import ray`).
RAY_OWN_WRITES = frozenset({"RAY_USAGE_STATS_ENABLED", "PYTHONBREAKPOINT"})


def changes(before: dict[str, str], after: dict[str, str]) -> dict[str, tuple[str | None, str | None]]:
    names = (set(before) | set(after)) - RAY_OWN_WRITES
    return {name: (before.get(name), after.get(name)) for name in names if before.get(name) != after.get(name)}


def test_starting_ray_and_the_embedded_servers_leaves_the_environment_unchanged(tmp_path: Path) -> None:
    unset = ("RAY_AUTH_MODE", "XDG_RUNTIME_DIR", "RAY_ADDRESS", "VS_RAY_ADDRESS", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k not in unset and not k.startswith(("RAY_SERVE_", "VS_HAPROXY"))}
    env["VS_SERVE_INGRESS"] = "haproxy"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    stages = ("imported", "connected", "after")
    assert {stage: changes(seen["before"], seen[stage]) for stage in stages} == {stage: {} for stage in stages}
    # and yet Ray's processes had what they needed
    worker = seen["worker"]
    assert worker["RAY_AUTH_MODE"] == "disabled"
    assert worker["RAY_SERVE_ENABLE_HA_PROXY"] == worker["VS_HAPROXY_SETS_FORWARDED_FOR"] == "1"
    assert Path(worker["RAY_SERVE_HAPROXY_BINARY_PATH"]).name
    assert Path(worker["TMPDIR"]).name.startswith("vs-ray-")
