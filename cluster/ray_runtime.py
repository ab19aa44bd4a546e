"""Connecting to Ray: one code path for the CLI, the tests and the Serve app.

With `VS_RAY_ADDRESS` set, join that cluster. Otherwise start a local Ray sized for a small machine (DESIGN.md,
"Ray on small machines"): an explicit CPU count (actors that mostly wait on I/O may oversubscribe the physical
cores), a capped object store (the default takes 30 % of RAM), token auth off for a local single-user cluster,
and ports chosen by the caller so two clusters on one host never share Serve's HTTP port.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import ray

from sentinel.settings import Settings

log = logging.getLogger(__name__)

NAMESPACE = "vsentinel"
_dashboard_url: str | None = None


@dataclass(frozen=True, slots=True)
class RayInfo:
    address: str
    dashboard_url: str | None
    started_locally: bool
    num_cpus: float
    version: str


def connect(
    settings: Settings,
    *,
    num_cpus: int | None = None,
    object_store_mb: int | None = None,
    include_dashboard: bool | None = None,
    dashboard_port: int | None = None,
) -> RayInfo:
    """Connects to (or starts) Ray once per process; later calls return the same cluster's info."""
    global _dashboard_url
    if not ray.is_initialized():
        if settings.ray_address:
            started = ray.init(address=settings.ray_address, namespace=NAMESPACE, log_to_driver=True)
        else:
            # Since Ray 2.59 a new local cluster requires a token unless told otherwise; the local cluster
            # binds to loopback only, so a token would only get in the way of `serve status` and `ray job`.
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            show_dashboard = settings.ray_include_dashboard if include_dashboard is None else include_dashboard
            started = ray.init(
                namespace=NAMESPACE,
                num_cpus=num_cpus or settings.ray_num_cpus,
                object_store_memory=(object_store_mb or settings.ray_object_store_mb) * 1024 * 1024,
                include_dashboard=show_dashboard,
                dashboard_host="127.0.0.1",
                dashboard_port=dashboard_port if dashboard_port is not None else settings.ray_dashboard_port,
                log_to_driver=True,
                configure_logging=False,
            )
        _dashboard_url = started.dashboard_url or None
    context = ray.get_runtime_context()
    dashboard = _dashboard_url
    return RayInfo(
        address=context.gcs_address,
        dashboard_url=f"http://{dashboard}" if dashboard and "://" not in dashboard else dashboard,
        started_locally=not settings.ray_address,
        num_cpus=ray.cluster_resources().get("CPU", 0.0),
        version=ray.__version__,
    )


def shutdown() -> None:
    if ray.is_initialized():
        ray.shutdown()
