"""`vsentinel doctor`: which PostgreSQL, Redis and Ray are used, their versions and health (the demo ends with it)."""

from __future__ import annotations

from dataclasses import asdict

import typer
from rich.text import Text

from cluster.cli_common import JSON_HELP, fail, services_or_exit, settings_or_exit
from cluster.console import console, emit_json, machine_output
from cluster.console import table as console_table
from sentinel.doctor import Check, check_audit_log, check_deferred_indexes, check_postgres, check_redis
from sentinel.embedded import Services
from sentinel.settings import Settings


def _ray_check(settings: Settings) -> Check:
    from cluster import ray_runtime  # imports Ray: only a doctor that reports Ray pays for it

    try:
        info = ray_runtime.connect_shared(settings, long_running=False)
    except Exception as error:
        return Check("ray", False, settings.ray_address or "local", detail=str(error).splitlines()[0])
    return Check("ray", True, info.address, version=info.version, detail=f"{info.mode}, {info.num_cpus:g} CPUs")


def run_doctor(settings: Settings, services: Services, *, with_ray: bool = True, as_json: bool = False) -> bool:
    checks = [
        check_postgres(services.database_url),
        check_audit_log(services.database_url),
        check_deferred_indexes(services.database_url),
        check_redis(services.redis_url),
    ]
    if with_ray:
        checks.append(_ray_check(settings))
    embedded = {"postgresql": services.embedded_postgres, "redis": services.embedded_redis}
    healthy = all(check.ok for check in checks)
    if as_json:
        emit_json(
            {"healthy": healthy, "checks": [{**asdict(c), "embedded": embedded.get(c.name, False)} for c in checks]}
        )
        return healthy
    table = console_table("service", "status", "target", "version", "detail", title="vsentinel doctor")
    for check in checks:
        status = "[green]healthy[/]" if check.ok else "[red]FAILING[/]"
        parts = [check.detail] if check.detail else []
        if check.extra:
            parts.append(", ".join(f"{k}={v}" for k, v in check.extra.items()))
        if check.latency_ms is not None:
            parts.append(f"{check.latency_ms:.0f} ms")
        if embedded.get(check.name):
            parts.append("embedded")
        table.add_row(check.name, status, check.target, check.version or "-", Text("; ".join(parts)))
    console.print(table)
    return healthy


def doctor_command(
    ray: bool = typer.Option(True, help="Also report Ray: the data directory's running one, else a short-lived one."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Report which PostgreSQL, Redis and Ray are used, their versions, health and the schema version."""
    machine_output(as_json)
    settings = settings_or_exit()
    with services_or_exit(settings) as services:
        healthy = run_doctor(settings, services, with_ray=ray, as_json=as_json)
    if not healthy:
        raise fail("some services are unhealthy" + ("" if as_json else " (see the table above)"))
