"""CLI errors are one line of text with the cause: a taken API port is named with the process holding it, and
error text is printed as written (never read as rich markup)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VS_")}
    env.update({"COLUMNS": "200", "VS_DATA_DIR": str(data_dir)})
    return subprocess.run(
        [sys.executable, "-m", "cluster.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port this test process listens on, as another program holding 8000 would."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


@pytest.mark.parametrize("command", [["serve"], ["serve", "--engine", "uvicorn"], ["demo", "--no-train"]])
def test_a_taken_port_is_one_line_naming_the_port_and_its_process(held_port, command, tmp_path):
    result = run_cli(*command, "--port", str(held_port), data_dir=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {held_port} on 127.0.0.1 is already in use by pid {os.getpid()}" in lines[0]
    assert "Traceback" not in result.stderr
    # Checked before anything starts: no embedded server was brought up for nothing.
    assert not (tmp_path / "postgres").exists()


def test_a_free_port_passes_the_check_and_a_released_one_is_free_again(tmp_path):
    from sentinel.ports import PortInUseError, ensure_free

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        with pytest.raises(PortInUseError) as caught:
            ensure_free("127.0.0.1", port)
        assert caught.value.holder is not None and caught.value.holder.pid == os.getpid()
    ensure_free("127.0.0.1", port)


def test_error_text_with_brackets_prints_literally(tmp_path):
    result = run_cli("demo", "--today", "[x] [/y]", data_dir=tmp_path)
    assert result.returncode == 2
    assert "MarkupError" not in result.stderr
    assert result.stderr.strip() == "error: --today '[x] [/y]' is not a date (YYYY-MM-DD)"
