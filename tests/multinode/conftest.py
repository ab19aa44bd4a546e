"""A local multi-node Ray cluster: a head node and worker nodes as separate raylets on this machine
(`ray.cluster_utils.Cluster`), each with its own resources so that a test can place work on a node and remove it.

The session's one-node Ray (tests/conftest.py `ray_cluster`) is shut down first: a driver connects to one cluster
at a time, and the multinode tests are ordered after every other test (tests/conftest.py). `VS_MULTINODE=full`
(`make multinode`) runs every multinode test at its full size, each on a cluster of its own; without it
(`make test`) the long ones are skipped and the others run smaller, on one cluster they share: a node a test asks
for by name and size is the node an earlier test left alive, or a new one where that test removed it (starting a
head and raylets on 2 loaded cores is most of a short test's time)."""

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
from tests.conftest import drop_database, free_port, migrated_database

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
    head_args: dict[str, Any]  # what started the head, to start it again (`start_head`)
    nodes: dict[str, Any] = field(default_factory=dict)  # name -> the raylet's Node
    sizes: dict[str, float] = field(default_factory=dict)  # name -> its CPUs

    def add_node(self, name: str, cpus: float, **args: Any) -> str:
        """A worker raylet with `cpus` CPUs and one unit of the custom resource `name`; returns its node id. The
        live node of that name and size when there is one (the short tests share one cluster)."""
        if name in self.nodes and self.sizes[name] == cpus and not args and (alive := self.alive_node_id(name)):
            return alive
        if name in self.nodes:
            self.remove_node(name)
        node = self.cluster.add_node(
            wait=False, num_cpus=cpus, resources={name: 1}, object_store_memory=NODE_OBJECT_STORE, **args
        )
        self.nodes[name], self.sizes[name] = node, cpus
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
        self.sizes.pop(name)
        node_id = node.node_id
        self.cluster.remove_node(node, allow_graceful=False)
        wait_until(
            lambda: all(not n["Alive"] for n in ray.nodes() if n["NodeID"] == node_id),
            NODE_DEADLINE_S,
            f"node {name} to be marked dead",
        )

    def kill_head(self) -> None:
        """Kills every process of the head node at once (its GCS, raylet, Serve's controller and the proxy there):
        a lost head machine. Only with the driver on a node of its own (`multinode_ray(driver_node=True)`): a
        driver shares the fate of its raylet."""
        self.cluster.remove_node(self.cluster.head_node, allow_graceful=False)

    def start_head(self) -> None:
        """A new head node in place of the killed one: its GCS on the same port, its tables from the external
        Redis; the other raylets and the driver reconnect to it."""
        self.cluster.add_node(wait=False, **self.head_args)


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
def multinode_ray(
    monkeypatch: pytest.MonkeyPatch, external_redis: str | None = None, driver_node: bool = False
) -> Iterator[MultiNodeRay]:
    """A head raylet with no CPUs, connected; worker nodes are added by the test. The driver attaches to the head,
    or with `driver_node` to a raylet of its own with no CPUs (so that the head can be lost under it).
    With `external_redis` (host:port) the GCS keeps its tables there, so a head started again on the same GCS port
    recovers them (Ray's GCS fault tolerance), under a namespace of its own that is deleted afterwards."""
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
    head_args: dict[str, Any] = {
        "num_cpus": 0,
        "resources": {"head": 1},
        "object_store_memory": NODE_OBJECT_STORE,
        "include_dashboard": False,
        # A killed raylet is seen dead after this many failed health checks, one a second instead of Ray's one
        # every 3 s, which made each removal in these tests wait three times as long.
        "_system_config": {"health_check_period_ms": 1000, "health_check_failure_threshold": 5},
    }
    if external_redis:
        # A restarted head must be where the raylets and the driver look for the GCS, and they must wait for it
        # longer than Ray's 60 s default while a loaded machine starts it.
        head_args["gcs_server_port"] = free_port()
        head_args["_system_config"]["gcs_rpc_server_reconnect_timeout_s"] = 300
    cluster = Cluster(initialize_head=True, head_node_args=head_args)
    try:
        driver_at: dict[str, Any] = {}
        if driver_node:
            # ray.init picks the raylet of this host whose temp dir it is given (by default, the head's).
            driver_dir = tempfile.mkdtemp(prefix="d-", dir=os.environ["RAY_TMPDIR"])
            cluster.add_node(num_cpus=0, resources={"driver": 1}, object_store_memory=NODE_OBJECT_STORE,
                             temp_dir=driver_dir)  # fmt: skip
            driver_at["_temp_dir"] = driver_dir
        ray.init(address=cluster.address, namespace=NAMESPACE, log_to_driver=False, **driver_at)
        yield MultiNodeRay(cluster, head_args)
    finally:
        try:
            ray.shutdown()
            cluster.shutdown()  # raises when a test left a thread driving Ray (one that timed out)
        finally:
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


@pytest.fixture(scope="package")
def shared_multinode() -> Iterator[MultiNodeRay | None]:
    """The one cluster of the short multinode tests (None at full size, where each test starts its own)."""
    if full_size():
        yield None
        return
    with pytest.MonkeyPatch.context() as patch, multinode_ray(patch) as cluster:
        yield cluster


@pytest.fixture
def multinode(shared_multinode: MultiNodeRay | None, monkeypatch: pytest.MonkeyPatch) -> Iterator[MultiNodeRay]:
    if shared_multinode is not None:
        yield shared_multinode
        return
    with multinode_ray(monkeypatch) as cluster:
        yield cluster
