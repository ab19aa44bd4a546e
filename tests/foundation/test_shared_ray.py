"""One local Ray per data directory: `vsentinel serve` (Ray Serve) starts and records it; `vsentinel doctor` in a
second process joins it instead of starting a second Ray, `model list` and `schedule status` start no Ray at all,
and the first process keeps serving; `vsentinel stop` ends both. A Ray record whose owner died is replaced.

Every CLI process here runs under a wrapper that writes one `RAY_INIT <address>` line to stderr per `ray.init`
call, so the test sees which processes started (address local) or joined a Ray."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel import stack
from tests.conftest import free_port
from tests.foundation.test_local_stack import answers, cli_env, poll

pytestmark = pytest.mark.integration

WRAPPER = (
    "import sys, ray; real = ray.init\n"
    "def init(*args, **kwargs):\n"
    "    print('RAY_INIT', kwargs.get('address'), file=sys.stderr, flush=True)\n"
    "    return real(*args, **kwargs)\n"
    "ray.init = init\n"
    "from cluster.cli import main; main()\n"
)


def ray_env(data_dir: Path) -> dict[str, str]:
    env = cli_env(data_dir)
    # The demo's default dashboard port may be taken on a shared machine; the record carries whichever is used.
    env.update({"VS_RAY_DASHBOARD_PORT": str(free_port()), "VS_RAY_OBJECT_STORE_MB": "150"})
    return env


def run_cli(*args: str, data_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WRAPPER, *args],
        env={**ray_env(data_dir), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def ray_inits(stderr: str) -> list[str]:
    return [line.split(" ", 1)[1] for line in stderr.splitlines() if line.startswith("RAY_INIT ")]


@pytest.fixture
def serving_on_ray(data_dir: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, int, Path]]:
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", WRAPPER, "serve", "--port", str(port)],
            env=ray_env(data_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        ready = f"http://127.0.0.1:{port}/readyz"
        poll(lambda: answers(ready) or process.poll() is not None, "the API on Ray Serve", 420)
        assert process.poll() is None, log_path.read_text()[-4000:]
        yield process, data_dir, port, log_path
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=120)
        ray_record = stack.read_ray(data_dir)
        if ray_record is not None:  # never leave a Ray behind a failed test
            stack.stop_processes(ray_record.processes)
        record = stack.read(data_dir)
        if record is not None:
            stack.stop_servers(record)


def test_a_second_cli_process_joins_the_running_ray_and_the_first_keeps_serving(serving_on_ray):
    process, data_dir, port, log_path = serving_on_ray
    record = stack.read_ray(data_dir)
    assert record is not None and record.owner.pid == process.pid, log_path.read_text()[-4000:]
    assert ray_inits(log_path.read_text()) == ["local"]  # the owner started a new local Ray
    assert any(proc.alive() for proc in record.processes)

    doctor = run_cli("doctor", data_dir=data_dir)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert ray_inits(doctor.stderr) == [record.address]
    assert f"attached to the local Ray of pid {process.pid}" in doctor.stdout, doctor.stdout

    for command in (("model", "list"), ("schedule", "status")):
        result = run_cli(*command, data_dir=data_dir)
        assert result.returncode == 0, result.stdout + result.stderr
        assert ray_inits(result.stderr) == [], f"{command} touched Ray"

    assert stack.read_ray(data_dir) == record  # nobody took the Ray over or dropped its record
    assert answers(f"http://127.0.0.1:{port}/readyz")
    again = run_cli("doctor", data_dir=data_dir)  # and Ray still answers a newcomer
    assert again.returncode == 0 and "attached to the local Ray" in again.stdout, again.stdout + again.stderr
    assert process.poll() is None

    stopped = run_cli("stop", data_dir=data_dir)
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped the local Ray of {data_dir} (owner pid {process.pid}" in stopped.stdout, stopped.stdout
    assert process.wait(timeout=120) is not None
    poll(lambda: not any(proc.alive() for proc in record.processes), "the Ray processes to end", 60)
    assert stack.read_ray(data_dir) is None and stack.read(data_dir) is None


def test_a_ray_record_whose_owner_died_is_replaced_and_a_short_command_records_nothing(
    data_dir, database_url, redis_url
):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = {"pid": gone.pid, "started": time.time() - 60}
    leftover = data_dir / "vs-ray-leftover"  # a killed owner's temp folder, recorded with its Ray
    (leftover / "ray").mkdir(parents=True)
    record = {"owner": dead, "address": f"127.0.0.1:{free_port()}", "processes": [dead], "leftovers": [str(leftover)]}
    (data_dir / stack.RAY_FILE).write_text(json.dumps(record))
    services = {"VS_DATABASE_URL": database_url, "VS_REDIS_URL": redis_url, "VS_RAY_NUM_CPUS": "1"}
    doctor = run_cli("doctor", data_dir=data_dir, env=services)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert ray_inits(doctor.stderr) == ["local"]  # a private Ray of its own, not the dead address
    assert "started locally" in doctor.stdout
    assert "stale local Ray record replaced" in doctor.stderr + log_text(data_dir)
    assert stack.read_ray(data_dir) is None  # doctor is short-lived: its Ray is not offered to others
    assert not leftover.exists()


def log_text(data_dir: Path) -> str:
    logs = data_dir / "logs"
    return "".join(path.read_text() for path in sorted(logs.glob("*.log"))) if logs.is_dir() else ""
