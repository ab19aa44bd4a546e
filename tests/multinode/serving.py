"""The Serve app of the multinode tests and the load they put on it."""

from __future__ import annotations

import secrets
import threading
from collections import Counter

import httpx
import ray
from ray import serve

from deployments.alerts.deployment import AlertService
from deployments.app import APP_NAME
from deployments.config import AppArgs
from deployments.gateway import Gateway
from deployments.risk.deployment import RiskScorer
from tests.conftest import free_port
from tests.multinode.conftest import node_of

JWT_SECRET = secrets.token_urlsafe(48)
SERVE_NAMESPACE = "serve"


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


def deploy_gateway(database_url: str, redis_url: str, proxy_location: str = "HeadOnly") -> str:
    """The Serve app with two Gateway and two RiskScorer replicas (the counting model); its URL. The proxy on the
    head unless told otherwise. `EveryNode` (configs/serve.yaml) works on one machine too: Serve's proxies bind
    with SO_REUSEPORT, so the proxies of all nodes share the port and the kernel spreads connections over them."""
    port = free_port()
    serve.start(proxy_location=proxy_location, http_options={"host": "127.0.0.1", "port": port})
    args = AppArgs(
        database_url=database_url,
        redis_url=redis_url,
        jwt_secret=JWT_SECRET,
        model_loader="tests.api.fakes:load_counting_model",
        pool_size=2,
        api={"redis_prefix": "vs_multinode"},
    ).model_dump()
    scorer = RiskScorer.options(num_replicas=2, autoscaling_config=None).bind(args)
    serve.run(
        Gateway.options(num_replicas=2).bind(scorer, AlertService.bind(args), args), name=APP_NAME, route_prefix="/"
    )
    return f"http://127.0.0.1:{port}"
