"""The Ray pipeline plans a dataset through the same step as the serial runner: an unchanged full-replace dataset
is not fetched, a replaced one is read (real Ray, PostgreSQL, the replay server over real samples)."""

from __future__ import annotations

import pytest

from cluster.ingest import run_ingestion
from sentinel.ingest.flow import PipelineShape
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from tests.ingest.conftest import stamped_server, table_checksums
from tests.ingest.test_unchanged_full_replace import FULL_REPLACE, IDS, NEXT_DAY, SNAPSHOT_AT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_ray_pipeline_skips_unchanged_full_replace_datasets_and_reads_a_replaced_one(
    ray_cluster, realdata, tmp_path, fresh_db
):
    def ray_run():
        return run_ingestion(database_url=fresh_db, source_url=server.url, app_token=None, datasets=FULL_REPLACE,
                             incremental=True, shape=PipelineShape(page_size=300, active_partitions=2))  # fmt: skip

    with stamped_server(realdata, tmp_path, IDS.values(), SNAPSHOT_AT) as server:
        run_serial(fresh_db, SocrataSource(server.url), RunOptions(FULL_REPLACE, incremental=False, page_size=300))
        tables = table_checksums(fresh_db)

        unchanged = ray_run()
        assert not unchanged.failed
        assert {s.dataset: (s.fetched, s.unchanged_since) for s in unchanged.summaries} == dict.fromkeys(
            FULL_REPLACE, (0, "2026-11-01T14:50:00+00:00")
        )
        assert table_checksums(fresh_db) == tables

        rows = SocrataSource(server.url).client.get(IDS["hpd_vacate_orders"], order=":id", limit=50_000)
        server.apply_changes({"at": NEXT_DAY, "datasets": {IDS["hpd_vacate_orders"]: {"replace": rows}}})
        replaced = ray_run()
    by_name = {s.dataset: s for s in replaced.summaries}
    assert not replaced.failed
    assert by_name["hpd_vacate_orders"].fetched == len(rows) and by_name["hpd_vacate_orders"].unchanged_since is None
    assert all(s.fetched == 0 for name, s in by_name.items() if name != "hpd_vacate_orders")
    # The same rows, republished: nothing changed but the rejects, whose record now carries a new :id.
    assert {t: c for t, c in table_checksums(fresh_db).items() if t != "rejects"} == {
        t: c for t, c in tables.items() if t != "rejects"
    }
