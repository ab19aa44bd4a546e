"""The coordinator starts the partitions whose last read was largest first (pipeline.largest_first)."""

from __future__ import annotations

import psycopg

from sentinel.ingest import watermarks
from sentinel.ingest.pipeline import PartitionTask, largest_first


def _task(dataset: str, partition: str) -> PartitionTask:
    return PartitionTask(dataset, "xxxx-xxxx", partition, None, incremental=True, cursor=None, resumed=False)


def test_partitions_whose_last_read_was_largest_start_first(fresh_db):
    with psycopg.connect(fresh_db) as conn:
        for dataset, partition, rows, completed in [
            ("hpd_violations", "1", 10, True),
            ("hpd_complaints", "2", 50, True),
            ("service_requests_311", "3", 500, True),
            # An interrupted read counts only what it committed before it stopped: no guess of the whole.
            ("service_requests_311", "4", 900, False),
        ]:
            watermarks.save(
                conn, watermarks.Watermark(dataset, partition, rows_committed=rows, completed=completed), None
            )
        catalog_order = [
            _task("hpd_violations", "1"),
            _task("hpd_violations", "2"),  # never read
            _task("hpd_complaints", "2"),
            _task("service_requests_311", "3"),
            _task("service_requests_311", "4"),
        ]
        ordered = largest_first(conn, catalog_order)
    assert [(t.dataset, t.partition) for t in ordered] == [
        ("service_requests_311", "3"),
        ("hpd_complaints", "2"),
        ("hpd_violations", "1"),
        ("hpd_violations", "2"),  # the unknown keep the order they came in
        ("service_requests_311", "4"),
    ]
