"""A local multi-node Ray cluster for one test: a head node and worker nodes as separate raylets on this machine
(`ray.cluster_utils.Cluster`), each with its own resources so that a test can place work on a node and remove it.

The session's one-node Ray (tests/conftest.py `ray_cluster`) is shut down first: a driver connects to one cluster
at a time, and the multinode tests are ordered after every other test (tests/conftest.py). `VS_MULTINODE=full`
(`make multinode`) runs every multinode test at its full size; without it (`make test`) the long ones are skipped
and the others run smaller."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import ray
from ray.cluster_utils import Cluster

from cluster.ray_runtime import NAMESPACE
from tests.conftest import drop_database, migrated_database

NODE_OBJECT_STORE = 80 * 1024 * 1024
NODE_DEADLINE_S = 180.0


def full_size() -> bool:
    return os.environ.get("VS_MULTINODE") == "full"


def wait_until(check: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.5) -> Any:
    """Polls `check` until it returns something truthy; fails naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception as error:  # a node in transition raises many kinds: retry until the deadline
            last_error = error
        else:
            if value:
                return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what} (last error: {last_error!r})")


@dataclass
class MultiNodeRay:
    cluster: Cluster
    nodes: dict[str, Any] = field(default_factory=dict)  # name -> the raylet's Node

    def add_node(self, name: str, cpus: float, **args: Any) -> str:
        """A worker raylet with `cpus` CPUs and one unit of the custom resource `name`; returns its node id."""
        node = self.cluster.add_node(
            wait=False, num_cpus=cpus, resources={name: 1}, object_store_memory=NODE_OBJECT_STORE, **args
        )
        self.nodes[name] = node
        wait_until(lambda: self.alive_node_id(name), NODE_DEADLINE_S, f"node {name} to join")
        return node.node_id

    def alive_node_id(self, name: str) -> str | None:
        for node in ray.nodes():
            if node["Alive"] and node["Resources"].get(name):
                return node["NodeID"]
        return None

    def remove_node(self, name: str) -> None:
        """Kills the node's processes at once (a lost machine, not a drain) and waits until Ray sees it dead."""
        node = self.nodes.pop(name)
        node_id = node.node_id
        self.cluster.remove_node(node, allow_graceful=False)
        wait_until(
            lambda: all(not n["Alive"] for n in ray.nodes() if n["NodeID"] == node_id),
            NODE_DEADLINE_S,
            f"node {name} to be marked dead",
        )


@pytest.fixture
def db_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh migrated database for one test, as the application role."""
    name, _, url = migrated_database(pg_admin_url, prefix="vs_multinode")
    yield url
    drop_database(pg_admin_url, name)


def node_of(actor: Any) -> str:
    """The node id an actor runs on (asked of the actor itself)."""
    return ray.get(actor.__ray_call__.remote(lambda self: ray.get_runtime_context().get_node_id()), timeout=120)


@contextlib.contextmanager
def multinode_ray(monkeypatch: pytest.MonkeyPatch, external_redis: str | None = None) -> Iterator[MultiNodeRay]:
    """A head raylet with no CPUs (only the driver attaches there), connected; worker nodes are added by the test.
    With `external_redis` (host:port) the GCS keeps its tables there, so a GCS restarted on the head recovers them
    (Ray's GCS fault tolerance), under a namespace of its own that is deleted afterwards."""
    if ray.is_initialized():
        ray.shutdown()
    # The processes of a local cluster take these from the environment of the process that starts them.
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("RAY_SERVE_ENABLE_HA_PROXY", "0")
    # Ray's files in a folder of this cluster's own: Ray records the newest local cluster's address in
    # $RAY_TMPDIR/ray/ray_current_cluster, and every `ray.init()` without an address on the machine (another test
    # session's one-node Ray) would join this cluster instead of starting its own. Short: socket paths are limited.
    monkeypatch.setenv("RAY_TMPDIR", tempfile.mkdtemp(prefix="vsmn-", dir="/tmp"))
    namespace = f"vs_multinode_{uuid.uuid4().hex[:10]}"
    if external_redis:
        monkeypatch.setenv("RAY_REDIS_ADDRESS", external_redis)
        monkeypatch.setenv("RAY_external_storage_namespace", namespace)
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 0,
            "resources": {"head": 1},
            "object_store_memory": NODE_OBJECT_STORE,
            "include_dashboard": False,
        },
    )
    try:
        ray.init(address=cluster.address, namespace=NAMESPACE, log_to_driver=False)
        yield MultiNodeRay(cluster)
    finally:
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(os.environ["RAY_TMPDIR"], ignore_errors=True)
        if external_redis:
            _delete_namespace(external_redis, namespace)


def _delete_namespace(address: str, namespace: str) -> None:
    import redis

    host, port = address.rsplit(":", 1)
    client = redis.Redis(host=host, port=int(port))
    keys = list(client.scan_iter(match=f"*{namespace}*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def multinode(monkeypatch: pytest.MonkeyPatch) -> Iterator[MultiNodeRay]:
    with multinode_ray(monkeypatch) as cluster:
        yield cluster
