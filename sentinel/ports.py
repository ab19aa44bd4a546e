"""Is a TCP port free to listen on, and if not, who holds it.

Ray Serve's HTTP proxy (HAProxy or uvicorn) binds the API port inside Ray's own processes: when the port is taken
the only trace is in Ray's logs and the CLI sees a generic start-up failure. Checking the port first lets the CLI
say which port and which process, before any server starts.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PortHolder:
    pid: int
    name: str  # the process's command line, or its name when that cannot be read


class PortInUseError(RuntimeError):
    def __init__(self, host: str, port: int, holder: PortHolder | None):
        self.host, self.port, self.holder = host, port, holder
        by = f" by pid {holder.pid} ({holder.name})" if holder else " (by a process this user cannot see)"
        super().__init__(f"port {port} on {host} is already in use{by}")


def ensure_free(host: str, port: int) -> None:
    """Raises PortInUseError when `host:port` cannot be bound for listening right now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR, so a socket in TIME_WAIT does not block them; it must not block the check.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(1)
        except OSError:
            raise PortInUseError(host, port, holder_of(port)) from None


def holder_of(port: int) -> PortHolder | None:
    """The process listening on TCP `port` on any address, when this user may see it."""
    import psutil

    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.Error:  # e.g. AccessDenied where /proc/net is restricted
        return None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return PortHolder(conn.pid, _describe(conn.pid))
    return None


def _describe(pid: int) -> str:
    import psutil

    with contextlib.suppress(psutil.Error):
        process = psutil.Process(pid)
        command = " ".join(" ".join(process.cmdline()).split())  # one line: arguments may hold newlines
        return command[:120] if command else process.name()
    return "unknown"
