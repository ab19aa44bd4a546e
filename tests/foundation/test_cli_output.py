"""What the CLI prints, run as a separate process with its output captured (not a terminal): the log goes to
VS_DATA_DIR/logs/vsentinel.log and stays off the console, or to stderr as JSON with --log-json; tables are as wide
as their content instead of cut to 80 columns; --json prints one JSON document and nothing else on stdout."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VS_") and k != "COLUMNS"}
    env.update({"VS_DATA_DIR": str(data_dir), "VS_JWT_SECRET": secrets.token_urlsafe(48)})
    return subprocess.run(
        [sys.executable, "-m", "cluster.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_logs_go_to_the_data_directory_and_machine_output_is_one_document(data_dir: Path):
    upgrade = run_cli("db", "upgrade", data_dir=data_dir)
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    assert "applied" in upgrade.stdout
    assert not json_lines(upgrade.stderr) and not json_lines(upgrade.stdout), upgrade.stderr
    logged = json_lines((data_dir / "logs" / "vsentinel.log").read_text())
    assert any(line["message"] == "embedded postgres started" for line in logged), logged

    doctor = run_cli("doctor", "--no-ray", "--json", data_dir=data_dir)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    document = json.loads(doctor.stdout)
    assert document["healthy"] is True
    assert {c["name"]: c["ok"] for c in document["checks"]} == {
        "postgresql": True,
        "audit log": True,
        "indexes": True,
        "redis": True,
    }
    assert all(c["embedded"] for c in document["checks"] if c["name"] in ("postgresql", "redis"))

    models = run_cli("model", "list", "--json", data_dir=data_dir)
    assert models.returncode == 0 and json.loads(models.stdout) == [], models.stdout + models.stderr
    jobs = run_cli("schedule", "status", "--json", data_dir=data_dir)
    assert jobs.returncode == 0, jobs.stdout + jobs.stderr
    assert {"ingest", "notify"} <= {job["job"] for job in json.loads(jobs.stdout)}


def test_log_json_sends_the_log_to_stderr_and_tables_are_not_cut_off_the_terminal(data_dir: Path):
    doctor = run_cli("--log-json", "doctor", "--no-ray", data_dir=data_dir)
    # A new directory's schema is not migrated: doctor says so, in a table nothing cut.
    assert doctor.returncode == 1
    messages = [line["message"] for line in json_lines(doctor.stderr)]
    assert "embedded postgres started" in messages, doctor.stderr
    assert doctor.stderr.strip().splitlines()[-1] == "error: some services are unhealthy (see the table above)"
    assert "…" not in doctor.stdout, doctor.stdout
    assert max(len(line) for line in doctor.stdout.splitlines()) > 80  # wider than rich's default off a terminal
    postgres_row = next(line for line in doctor.stdout.splitlines() if line.startswith("│ postgresql"))
    assert "schema_version" in postgres_row and "embedded" in postgres_row, doctor.stdout
