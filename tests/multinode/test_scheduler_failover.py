"""The detached scheduler actor survives the loss of its node: Ray restarts it on another node, and the restarted
actor takes its state from PostgreSQL (what fired, what was left running), so nothing fires twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import ray

from cluster.scheduler import start_scheduler, stop_scheduler
from sentinel.scheduling import JobSpec, ScheduleConfig
from tests.multinode.conftest import MultiNodeRay, node_of, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.multinode]

# Daily at midnight UTC: one due time for the whole test (a minute cron could roll over under load).
CONFIG = ScheduleConfig(timezone="UTC", jobs=(JobSpec(name="notify", cron="0 0 * * *", kind="notify"),))


def test_the_scheduler_restarts_on_another_node_with_its_state_from_postgres(
    multinode: MultiNodeRay, db_url: str
) -> None:
    # Two CPUs each, as the other short tests ask: on their shared cluster the nodes they left are reused.
    nodes = {multinode.add_node("node_a", cpus=2): "node_a", multinode.add_node("node_b", cpus=2): "node_b"}
    handle = start_scheduler(db_url, "http://127.0.0.1:9", config=CONFIG, in_process_alerts=True, autostart=False)
    try:
        (firing,) = ray.get(handle.tick.remote(), timeout=300)
        assert firing.outcome == "succeeded", firing.detail
        first_node = node_of(handle)
        # A firing the lost node was running when it died (its advisory lock went with its connection).
        left_running = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("INSERT INTO schedule_runs (job, due_at) VALUES ('other', %s)", (left_running,))

        multinode.remove_node(nodes[first_node])

        moved_to = wait_until(
            lambda: (lambda node: node if node != first_node else None)(node_of(handle)),
            300,
            "the scheduler to answer from another node",
        )
        assert moved_to in nodes
        # The same due time does not fire again: the restarted actor read what fired from schedule_runs.
        assert ray.get(handle.tick.remote(), timeout=300) == []
        (status,) = ray.get(handle.status.remote(), timeout=120)
        assert status["last_outcome"] == "succeeded"
        assert status["last_due_at"] == firing.due_at
        with psycopg.connect(db_url, autocommit=True) as conn:
            rows = conn.execute("SELECT job, outcome, detail FROM schedule_runs ORDER BY job").fetchall()
        assert [(job, outcome) for job, outcome, _ in rows] == [("notify", "succeeded"), ("other", "failed")]
        assert "interrupted" in rows[1][2]
    finally:
        stop_scheduler()
