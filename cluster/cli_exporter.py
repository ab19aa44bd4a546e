"""`vsentinel exporter`: the Prometheus endpoint of the figures kept in PostgreSQL and Redis (ingestion, outbox,
scheduler, scores, connections), read at each scrape. Runs in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cluster.cli_common import port_or_exit, services_or_exit, settings_or_exit
from sentinel.monitoring.collector import DEFAULT_PORT, serve

console = Console()


def exporter_command(
    host: Annotated[
        str, typer.Option(help="Address to listen on. No authentication: keep it on loopback or a private network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the /metrics endpoint.")] = DEFAULT_PORT,
    schedules: Annotated[Path | None, typer.Option(help="Schedule file (default configs/schedules.yaml).")] = None,
) -> None:
    """Serve ViolationSentinel's operating figures for Prometheus at http://HOST:PORT/metrics."""
    from cluster.monitoring_sources import monitoring_sources  # imports Ray: only the exporter pays for it

    settings = settings_or_exit()
    port_or_exit(host, port)
    with services_or_exit(settings) as services:
        sources = monitoring_sources(services, schedules)
        server, _thread = serve(sources, host, port)
        console.print(f"exporter serving http://{host}:{port}/metrics; Ctrl-C to stop")
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait()
        server.shutdown()  # type: ignore[attr-defined]
