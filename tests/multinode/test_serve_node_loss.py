"""Serve replicas on two worker nodes, one node lost under load: Serve replaces the lost replicas on the node that
is left, and every request succeeds at once or on its one retry (README, "Multi-node: what is tested")."""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import ray
from ray import serve

from deployments.alerts.deployment import AlertService
from deployments.app import APP_NAME
from deployments.config import AppArgs
from deployments.gateway import Gateway
from deployments.risk.deployment import RiskScorer
from tests.conftest import drop_database, free_port, migrated_database
from tests.multinode.conftest import MultiNodeRay, full_size, node_of, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.multinode]

JWT_SECRET = secrets.token_urlsafe(48)
SERVE_NAMESPACE = "serve"


@pytest.fixture
def db_url(pg_admin_url: str) -> Iterator[str]:
    name, _, url = migrated_database(pg_admin_url, prefix="vs_multinode")
    yield url
    drop_database(pg_admin_url, name)


def replica_nodes(deployment: str) -> list[str]:
    """The node of each running replica of `deployment` (asked of the replica actors)."""
    names = [
        a["name"]
        for a in ray.util.list_named_actors(all_namespaces=True)
        if a["namespace"] == SERVE_NAMESPACE and f"#{deployment}#" in a["name"]
    ]
    nodes = []
    for name in names:
        try:
            nodes.append(node_of(ray.get_actor(name, namespace=SERVE_NAMESPACE)))
        except (ValueError, ray.exceptions.RayActorError):
            continue  # a replica on the lost node, not yet forgotten
    return nodes


def ready(response: httpx.Response) -> bool:
    """200 with every dependency answering: the gateway, PostgreSQL, Redis and a RiskScorer replica."""
    return response.status_code == 200 and all(check["ok"] for check in response.json()["checks"].values())


class Load:
    """Clients sending /readyz until stopped (or a bound on requests); each failed request is retried once."""

    def __init__(self, url: str, clients: int = 2, max_requests: int = 20_000) -> None:
        self.url, self.max_requests = url, max_requests
        self.outcomes: Counter[str] = Counter()
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def _attempt(self, client: httpx.Client) -> str | None:
        try:
            response = client.get("/readyz")
        except httpx.HTTPError as error:
            return f"{type(error).__name__}: {error}"
        return None if ready(response) else f"{response.status_code}: {response.text[:200]}"

    def _client(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self.stop.is_set() and sum(self.outcomes.values()) < self.max_requests:
                first = self._attempt(client)
                outcome = "ok" if first is None else ("retried" if self._attempt(client) is None else "failed")
                with self.lock:
                    self.outcomes[outcome] += 1
                    if first is not None:
                        self.errors.append(first)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(120)


def test_losing_a_node_under_load_fails_no_request_beyond_its_one_retry(
    multinode: MultiNodeRay, db_url: str, redis_url: str
) -> None:
    nodes = {multinode.add_node("node_a", cpus=2): "node_a", multinode.add_node("node_b", cpus=2): "node_b"}
    port = free_port()
    # The proxy on the head: nodes of one machine would all bind the same HTTP port (a cluster's nodes each run
    # one, configs/serve.yaml: EveryNode).
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})
    args = AppArgs(
        database_url=db_url,
        redis_url=redis_url,
        jwt_secret=JWT_SECRET,
        model_loader="tests.api.fakes:load_counting_model",
        pool_size=2,
        api={"redis_prefix": "vs_multinode"},
    ).model_dump()
    scorer = RiskScorer.options(num_replicas=2, autoscaling_config=None).bind(args)
    app = Gateway.options(num_replicas=2).bind(scorer, AlertService.bind(args), args)
    url = f"http://127.0.0.1:{port}"
    try:
        serve.run(app, name=APP_NAME, route_prefix="/")
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
            after = sum(load.outcomes.values()) + (200 if full_size() else 40)
            wait_until(lambda: sum(load.outcomes.values()) >= after, 600, "requests to the replaced replicas")
        print(f"requests: {dict(load.outcomes)}; first-try failures: {load.errors[:5]}")
        assert load.outcomes["failed"] == 0, load.errors[:5]
        assert set(replica_nodes("Gateway")) == set(replica_nodes("RiskScorer")) == {multinode.alive_node_id("node_a")}
    finally:
        serve.shutdown()
