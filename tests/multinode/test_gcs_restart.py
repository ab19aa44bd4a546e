"""Ray's GCS fault tolerance with the external Redis: the whole head node is lost (its GCS, its raylet, Serve's
controller and the proxy on it, killed at once) and a new head starts on the same GCS port, its tables read back
from Redis. While the head is down and after the new one is up, Serve keeps answering through the proxies of the
other nodes and the scheduler actor carries on; after it is up, Serve's controller is back and new work is
scheduled. The driver runs on a raylet of its own (a driver shares the fate of its raylet). Full size only
(`make multinode`)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import ray
from ray import serve

from cluster.scheduler import start_scheduler, stop_scheduler
from deployments.app import APP_NAME
from tests.multinode.conftest import MultiNodeRay, full_size, multinode_ray, wait_until
from tests.multinode.serving import Load, deploy_gateway
from tests.multinode.test_scheduler_failover import CONFIG

pytestmark = [pytest.mark.integration, pytest.mark.multinode]


@pytest.fixture
def multinode_with_redis(monkeypatch: pytest.MonkeyPatch, redis_url: str):
    if not full_size():
        pytest.skip("the head restart runs with VS_MULTINODE=full (make multinode)")
    parts = urlsplit(redis_url)
    if parts.scheme != "redis" or not parts.port:
        pytest.skip(f"Ray's GCS needs a Redis reachable over TCP, not {redis_url}")
    with multinode_ray(monkeypatch, external_redis=f"{parts.hostname}:{parts.port}", driver_node=True) as cluster:
        yield cluster


def alive_heads() -> list[str]:
    return [node["NodeID"] for node in ray.nodes() if node["Alive"] and node["Resources"].get("head")]


def app_running() -> bool:
    return serve.status().applications[APP_NAME].status == "RUNNING"


def test_a_restarted_head_leaves_serve_answering_and_the_scheduler_running(
    multinode_with_redis: MultiNodeRay, db_url: str, redis_url: str
) -> None:
    cluster = multinode_with_redis
    cluster.add_node("node_a", cpus=2)
    cluster.add_node("node_b", cpus=2)
    scheduler = start_scheduler(db_url, "http://127.0.0.1:9", config=CONFIG, in_process_alerts=True, autostart=False)
    try:
        url = deploy_gateway(db_url, redis_url, proxy_location="EveryNode")
        (firing,) = ray.get(scheduler.tick.remote(), timeout=300)
        assert firing.outcome == "succeeded", firing.detail
        (old_head,) = alive_heads()
        with Load(url) as load:
            wait_until(lambda: load.outcomes["ok"] >= 20, 300, "20 answered requests before the loss")
            cluster.kill_head()
            lost_at = load.outcomes["ok"]
            # The scheduler actor (on a worker node) answers without the GCS: nothing due, nothing fired again.
            assert ray.get(scheduler.tick.remote(), timeout=30) == []
            # At once: the other raylets give up on the GCS soon, whatever gcs_rpc_server_reconnect_timeout_s
            # says, and a loaded machine is slow to start a head (benchmarks/RESULTS.md, "Multi-node tests").
            cluster.start_head()
            (new_head,) = wait_until(lambda: [h for h in alive_heads() if h != old_head], 120, "a new head node")
            answered_headless = load.outcomes["ok"] - lost_at
            wait_until(app_running, 300, "Serve's controller back on the new head")
            after = sum(load.outcomes.values()) + 40
            wait_until(lambda: sum(load.outcomes.values()) >= after, 300, "requests after the restart")
        print(f"requests: {dict(load.outcomes)}, {answered_headless} answered with no head; "
              f"first-try failures: {load.errors[:5]}")  # fmt: skip
        assert load.outcomes["failed"] == 0, load.errors[:5]
        assert answered_headless > 0  # Serve answered while there was no head
        assert old_head not in alive_heads() and new_head
        # The scheduler actor lived through it: same due time, nothing fired twice, its status from PostgreSQL.
        assert ray.get(scheduler.tick.remote(), timeout=300) == []
        (status,) = ray.get(scheduler.status.remote(), timeout=120)
        assert status["last_outcome"] == "succeeded"
        assert status["last_due_at"] == firing.due_at
        # and the new head's GCS schedules new work
        assert ray.get(ray.remote(num_cpus=0.1)(lambda: 42).remote(), timeout=300) == 42
    finally:
        serve.shutdown()
        stop_scheduler()
