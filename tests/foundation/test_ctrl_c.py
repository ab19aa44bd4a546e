"""Ctrl-C stops a command wherever it is, also when whoever started it ignored SIGINT, as a shell does for what it
runs in the background (`vsentinel demo &` in a script, a test run started with `&`): that SIGINT was lost, and a
demo stopped before it served went on to serve until it was killed."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil


def _holds_open(pid: int, path: Path) -> bool:
    try:
        return any(Path(f.path) == path for f in psutil.Process(pid).open_files())
    except psutil.Error:
        return False


def test_ctrl_c_stops_a_command_started_with_sigint_ignored_before_it_serves(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VS_")}
    env.update({"COLUMNS": "200", "VS_DATA_DIR": str(data_dir)})
    lock = data_dir / "stack.lock"
    with lock.open("a") as held:
        # Another command deciding about this data directory's stack: the command waits for it, before any handler
        # of its own is set.
        fcntl.flock(held, fcntl.LOCK_EX)
        process = subprocess.Popen(
            [sys.executable, "-m", "cluster.cli", "doctor", "--no-ray"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as a shell starts a background job
        )
        try:
            deadline = time.monotonic() + 120
            while not _holds_open(process.pid, lock):
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the command never reached the stack's lock"
                time.sleep(0.1)
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 128 + signal.SIGINT, stderr
