"""`vsentinel schedule`: what the scheduler ran and will run, and the scheduler itself in the foreground."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cluster.cli_common import services_or_exit, settings_or_exit, upgrade_or_exit
from cluster.console import console, emit_json, machine_output
from cluster.console import table as console_table
from sentinel.scheduling import job_status, load_schedules

schedule_app = typer.Typer(help="The job scheduler (ingestion, alerts, notifications).", no_args_is_help=True)


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def status_table(rows: list[dict[str, Any]]) -> Table:
    table = console_table(
        "job", "cron", "last due", "outcome", "finished", "next due", "detail", title="Scheduled jobs"
    )
    for row in rows:
        outcome = row["last_outcome"] or ("disabled" if not row["enabled"] else "never ran")
        detail = row["last_detail"] or row["note"] or ""
        table.add_row(
            row["job"],
            row["cron"],
            _when(row["last_due_at"]),
            outcome,
            _when(row["last_finished_at"]),
            _when(row["next_due_at"]) if row["enabled"] else "disabled",
            detail[:80],
        )
    return table


@schedule_app.command("status")
def status(
    schedules: Annotated[Path | None, typer.Option(help="Schedule file (default configs/schedules.yaml).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the jobs as one JSON document on stdout.")] = False,
) -> None:
    """Last and next run of every job, from schedule_runs and the cron expressions."""
    machine_output(as_json)
    settings = settings_or_exit()
    with services_or_exit(settings) as services:
        rows = job_status(services.database_url, load_schedules(schedules))
    if as_json:
        emit_json(rows)
        return
    console.print(status_table(rows))


@schedule_app.command("run")
def run(
    schedules: Annotated[Path | None, typer.Option(help="Schedule file (default configs/schedules.yaml).")] = None,
    source: Annotated[str | None, typer.Option(help="Socrata base URL (default VS_SOCRATA_URL).")] = None,
    once: Annotated[bool, typer.Option("--once", help="Fire what is due now, then exit.")] = False,
) -> None:
    """Run the scheduler in the foreground on the local Ray (Ctrl-C stops it). Channels come from VS_* variables
    (see sentinel/channels/settings.py)."""
    # Ray and the channels' clients load only when the scheduler runs, not for `vsentinel --help`.
    import ray

    from cluster import ray_runtime
    from cluster.scheduler import Scheduler
    from sentinel.channels.settings import channel_settings_from_env

    settings = settings_or_exit()
    config = load_schedules(schedules)
    with services_or_exit(settings) as services:
        upgrade_or_exit(services)
        ray_runtime.connect_shared(settings, long_running=not once)
        scheduler = Scheduler.remote(
            services.database_url,
            (source or settings.socrata_url).rstrip("/"),
            settings.socrata_app_token,
            config=config,
            channel_settings=channel_settings_from_env(),
            autostart=not once,
            owner_database_url=services.migration_url,
        )
        try:
            if once:
                for firing in ray.get(scheduler.tick.remote()):
                    console.print(f"{firing.job} ({_when(firing.due_at)}): {firing.outcome}: {firing.detail}")
                return
            console.print(status_table(ray.get(scheduler.status.remote())))
            console.print("scheduler running; Ctrl-C to stop")
            stop = threading.Event()
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            stop.wait()
            console.print("stopping (a job in progress finishes first)")
            ray.get(scheduler.stop.remote())
        finally:
            ray.kill(scheduler)
