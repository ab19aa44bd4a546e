"""Ray's GCS fault tolerance with the external Redis: the head's GCS process is killed and started again (its
tables in Redis). While it is down and after it is back, Serve keeps answering and the scheduler actor carries on;
after it is back, new actors can be created. Full size only (`make multinode`)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import ray
from ray import serve

from cluster.scheduler import start_scheduler, stop_scheduler
from tests.multinode.conftest import MultiNodeRay, full_size, multinode_ray, wait_until
from tests.multinode.serving import Load, deploy_gateway
from tests.multinode.test_scheduler_failover import CONFIG

pytestmark = [pytest.mark.integration, pytest.mark.multinode]


@pytest.fixture
def multinode_with_redis(monkeypatch: pytest.MonkeyPatch, redis_url: str):
    if not full_size():
        pytest.skip("the GCS restart runs with VS_MULTINODE=full (make multinode)")
    parts = urlsplit(redis_url)
    if parts.scheme != "redis" or not parts.port:
        pytest.skip(f"Ray's GCS needs a Redis reachable over TCP, not {redis_url}")
    with multinode_ray(monkeypatch, external_redis=f"{parts.hostname}:{parts.port}") as cluster:
        yield cluster


def gcs_answers() -> bool:
    return any(node["Alive"] for node in ray.nodes())


def test_a_restarted_gcs_leaves_serve_answering_and_the_scheduler_running(
    multinode_with_redis: MultiNodeRay, db_url: str, redis_url: str
) -> None:
    cluster = multinode_with_redis
    cluster.add_node("node_a", cpus=2)
    cluster.add_node("node_b", cpus=2)
    scheduler = start_scheduler(db_url, "http://127.0.0.1:9", config=CONFIG, in_process_alerts=True, autostart=False)
    try:
        url = deploy_gateway(db_url, redis_url)
        (firing,) = ray.get(scheduler.tick.remote(), timeout=300)
        assert firing.outcome == "succeeded", firing.detail
        with Load(url) as load:
            wait_until(lambda: load.outcomes["ok"] >= 20, 300, "20 answered requests before the restart")
            head = cluster.cluster.head_node
            head.kill_gcs_server()
            during = sum(load.outcomes.values()) + 20
            wait_until(lambda: sum(load.outcomes.values()) >= during, 120, "requests answered without the GCS")
            head.start_gcs_server()
            wait_until(gcs_answers, 300, "the GCS to answer again")
            after = sum(load.outcomes.values()) + 40
            wait_until(lambda: sum(load.outcomes.values()) >= after, 300, "requests after the restart")
        print(f"requests: {dict(load.outcomes)}; first-try failures: {load.errors[:5]}")
        assert load.outcomes["failed"] == 0, load.errors[:5]
        # The scheduler actor lived through it: same due time, nothing fired twice, its status from PostgreSQL.
        assert ray.get(scheduler.tick.remote(), timeout=300) == []
        (status,) = ray.get(scheduler.status.remote(), timeout=120)
        assert status["last_outcome"] == "succeeded"
        # and the restarted GCS schedules new work
        assert ray.get(ray.remote(num_cpus=0.1)(lambda: 42).remote(), timeout=300) == 42
    finally:
        serve.shutdown()
        stop_scheduler()
