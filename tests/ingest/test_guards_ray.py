"""The deletion guard on the Ray pipeline: an empty upstream leaves every live row live and the run partial
(real Ray, PostgreSQL, the replay server over real HPD rows)."""

from __future__ import annotations

import psycopg
import pytest

from cluster.ingest import run_ingestion
from sentinel.ingest.flow import PipelineShape
from tests.ingest.conftest import count

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_an_empty_upstream_on_the_ray_pipeline_holds_deletions_and_the_run_is_partial(ray_cluster, real_server,
                                                                                       fresh_db):  # fmt: skip
    def run(incremental: bool):
        return run_ingestion(database_url=fresh_db, source_url=real_server.url, app_token=None,
                             datasets=["hpd_violations"], incremental=incremental,
                             shape=PipelineShape(page_size=300, active_partitions=2))  # fmt: skip

    first = run(False)
    assert not first.failed and not first.held
    live = count(fresh_db, "SELECT count(*) FROM violations WHERE NOT is_deleted")
    assert live > 1000
    real_server.apply_changes({"datasets": {"wvxf-dwi5": {"replace": []}}})

    result = run(True)
    (hpd,) = result.summaries
    assert [s.dataset for s in result.held] == ["hpd_violations"] and not result.failed
    assert hpd.deleted == 0 and hpd.held_deletions == live
    assert count(fresh_db, "SELECT count(*) FROM violations WHERE NOT is_deleted") == live
    with psycopg.connect(fresh_db) as conn:
        status = conn.execute("SELECT status FROM ingestion_runs WHERE id = %s", (result.run_id,)).fetchone()[0]
        kinds = conn.execute("SELECT kind FROM source_anomalies WHERE run_id = %s", (result.run_id,)).fetchall()
    assert status == "partial" and kinds == [("empty_source",)]
