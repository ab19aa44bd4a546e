"""Ray starts locally sized for a small machine, once per process."""

from __future__ import annotations

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
