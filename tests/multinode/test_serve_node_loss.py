"""Serve replicas on two worker nodes, one node lost under load: Serve replaces the lost replicas on the node that
is left, and every request succeeds at once or on its one retry (README, "Multi-node: what is tested")."""

from __future__ import annotations

import pytest
from ray import serve

from tests.multinode.conftest import MultiNodeRay, full_size, wait_until
from tests.multinode.serving import Load, deploy_gateway, replica_nodes

pytestmark = [pytest.mark.integration, pytest.mark.multinode]


def test_losing_a_node_under_load_fails_no_request_beyond_its_one_retry(
    multinode: MultiNodeRay, db_url: str, redis_url: str
) -> None:
    nodes = {multinode.add_node("node_a", cpus=2): "node_a", multinode.add_node("node_b", cpus=2): "node_b"}
    try:
        url = deploy_gateway(db_url, redis_url)
        placed = {"Gateway": replica_nodes("Gateway"), "RiskScorer": replica_nodes("RiskScorer")}
        assert all(set(found) == set(nodes) for found in placed.values()), placed  # one of each per node

        with Load(url) as load:
            wait_until(lambda: load.outcomes["ok"] >= 20, 300, "20 answered requests before the loss")
            multinode.remove_node("node_b")
            wait_until(
                lambda: len(replica_nodes("Gateway")) == 2 and len(replica_nodes("RiskScorer")) == 2,
                600,
                "Serve to replace the lost replicas",
            )
            after = sum(load.outcomes.values()) + (200 if full_size() else 20)
            wait_until(lambda: sum(load.outcomes.values()) >= after, 600, "requests to the replaced replicas")
        print(f"requests: {dict(load.outcomes)}; first-try failures: {load.errors[:5]}")
        assert load.outcomes["failed"] == 0, load.errors[:5]
        assert set(replica_nodes("Gateway")) == set(replica_nodes("RiskScorer")) == {multinode.alive_node_id("node_a")}
    finally:
        serve.shutdown()
