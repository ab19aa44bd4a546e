"""A page's commit retried after its reply was lost (its writer's node died after COMMIT) finds the page committed
and writes nothing, instead of failing the dataset as out of order (tests/multinode/test_ingest_node_loss.py)."""

from __future__ import annotations

import pytest

from citysim.replay.server import serve_in_background
from sentinel.datasets import load_datasets
from sentinel.ingest import pipeline
from sentinel.ingest.pages import normalize_body
from sentinel.ingest.run import ingestion_run
from sentinel.ingest.socrata import SocrataSource, cursor_after
from sentinel.ingest.writer import WriteStats
from tests.ingest.conftest import count

pytestmark = pytest.mark.integration

DATASET = "hpd_violations"


def test_a_retried_commit_of_the_last_committed_page_writes_nothing_and_the_next_page_follows(
    synthetic_city, fresh_db
) -> None:
    catalog = load_datasets()
    config = catalog[DATASET]
    with serve_in_background(synthetic_city) as server:
        source = SocrataSource(server.url)
        with ingestion_run(fresh_db, incremental=False, source_url=server.url, datasets=[DATASET], catalog=catalog) as (
            conn,
            run_id,
            _,
        ):
            task = pipeline.plan_dataset(conn, config, incremental=False)[0]

            def page(cursor):
                body = source.page_body(task.socrata_id, where=task.where, cursor=cursor, incremental=False, limit=20)
                return normalize_body(config, body)

            def commit(cursor, meta, batch, committed):
                return pipeline.commit_page(conn, batch, task=task, read_after=cursor, last_row=meta.last_row,
                                            max_updated_at=meta.max_updated_at, rows_committed=committed,
                                            run_id=run_id)  # fmt: skip

            meta, batch = page(task.cursor)
            assert meta.rows == 20
            first = commit(task.cursor, meta, batch, 20)
            assert first.inserted + first.updated == 20
            rows = count(fresh_db, "SELECT count(*) FROM violations")

            _, again = page(task.cursor)
            assert commit(task.cursor, meta, again, 20) == WriteStats()
            assert count(fresh_db, "SELECT count(*) FROM violations") == rows

            after = cursor_after(meta.last_row, False)
            next_meta, next_batch = page(after)
            following = commit(after, next_meta, next_batch, 20 + next_meta.rows)
            assert following.inserted + following.updated == next_meta.rows > 0
            assert count(fresh_db, "SELECT count(*) FROM violations") > rows
            # a page that is not the last committed one (another running count) is still refused as out of order
            with pytest.raises(pipeline.OutOfOrderCommitError):
                commit(after, next_meta, page(after)[1], 21 + next_meta.rows)
