"""`vsentinel ingest` exit codes follow the run: 0 succeeded, 3 partial when a guard held deletions back, 1 when a
dataset rejected too much. The real CLI in a subprocess (its own local Ray), the replay server over real rows."""

from __future__ import annotations

import json

import pytest

from tests.foundation.test_cli import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_ingest_exits_0_then_3_on_an_empty_upstream_then_1_on_too_many_rejects(fresh_db, redis_url, real_server,
                                                                               tmp_path):  # fmt: skip
    env = {"VS_DATABASE_URL": fresh_db, "VS_REDIS_URL": redis_url, "VS_RAY_NUM_CPUS": "2",
           "VS_RAY_OBJECT_STORE_MB": "100", "VS_RAY_INCLUDE_DASHBOARD": "false", "VS_DATA_DIR": str(tmp_path),
           "RAY_AUTH_MODE": "disabled", "VS_INGEST_PAGE_SIZE": "500"}  # fmt: skip

    def ingest(*args: str):
        return run_cli("ingest", "-d", "dob_violations", "--source", real_server.url, *args, env=env)

    first = ingest("--full")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "dob_violations" in first.stdout

    real_server.apply_changes({"datasets": {"3h2n-5cm9": {"replace": []}}})
    held = ingest("--json")  # the summary as one JSON document on stdout, the exit code as without it
    assert held.returncode == 3, held.stdout + held.stderr
    assert "partial: deletions held back for dob_violations" in held.stderr
    (summary,) = json.loads(held.stdout)["summaries"]
    assert summary["dataset"] == "dob_violations" and summary["anomaly"] and not summary["error"], summary

    unlocatable = [{"isn_dob_bis_viol": f"9900{i:04d}", "violation_type_code": "E", "issue_date": "20240105"}
                   for i in range(20)]  # fmt: skip
    real_server.apply_changes({"datasets": {"3h2n-5cm9": {"insert": unlocatable}}})
    failed = ingest("--full")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "1 dataset(s) failed: dob_violations" in failed.stderr
