"""Ray starts locally sized for a small machine, once per process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import ray

from cluster import ray_runtime
from sentinel.settings import load_settings

pytestmark = pytest.mark.integration


def test_local_ray_has_the_requested_cpus_and_a_capped_object_store(ray_cluster):
    assert ray_cluster.started_locally
    assert ray_cluster.num_cpus == 4
    store = ray.cluster_resources()["object_store_memory"]
    assert store <= 300 * 1024 * 1024 + 1


def test_connecting_twice_reuses_the_running_cluster(ray_cluster):
    again = ray_runtime.connect(load_settings(ray_num_cpus=2))
    assert again.address == ray_cluster.address
    assert again.num_cpus == 4


def test_haproxy_ingress_gets_free_ports_and_keeps_what_the_user_set() -> None:
    names = (
        "RAY_SERVE_ENABLE_HA_PROXY",
        "RAY_SERVE_THROUGHPUT_OPTIMIZED",
        "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT",
        "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT",
        "RAY_SERVE_HAPROXY_STATS_PORT",
        "RAY_SERVE_HAPROXY_METRICS_PORT",
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S",
    )
    user = {"RAY_SERVE_HAPROXY_STATS_PORT": "18404"}
    before = dict(os.environ)
    env = {**user, **ray_runtime.serve_ingress_environment("haproxy", user)}
    assert dict(os.environ) == before  # what the local Ray's processes get, not this process
    assert env["RAY_SERVE_ENABLE_HA_PROXY"] == env["RAY_SERVE_THROUGHPUT_OPTIMIZED"] == "1"
    assert env["RAY_SERVE_HAPROXY_STATS_PORT"] == "18404"
    assert all(name in env for name in names)
    chosen = [int(env[name]) for name in names if name.endswith("_PORT") and name != "RAY_SERVE_HAPROXY_STATS_PORT"]
    assert len(set(chosen)) == 3 and all(port not in (8500, 9500, 9101) for port in chosen)
    # Outside Ray's worker ports and below the kernel's ephemeral range, where outgoing connections take theirs.
    ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert all(20_000 <= port < ephemeral for port in chosen)


def test_proxy_ingress_turns_haproxy_off() -> None:
    assert ray_runtime.serve_ingress_environment("proxy", {})["RAY_SERVE_ENABLE_HA_PROXY"] == "0"
    assert "RAY_SERVE_ENABLE_HA_PROXY" not in ray_runtime.serve_ingress_environment(
        "proxy", {"RAY_SERVE_ENABLE_HA_PROXY": "1"}
    )
