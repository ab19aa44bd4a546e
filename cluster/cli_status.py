"""`vsentinel status`: one screen of the operating figures, read from the database (the same figures
`vsentinel exporter` gives Prometheus), for people without Grafana. `--json` prints them for scripts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from cluster.cli_common import fail, services_or_exit, settings_or_exit
from cluster.console import console, emit_json
from sentinel.monitoring.figures import Figures, read_figures
from sentinel.monitoring.summary import as_json, attention, human_seconds, scores_age_seconds


def status_command(
    as_json_output: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    schedules: Annotated[Path | None, typer.Option(help="Schedule file (default configs/schedules.yaml).")] = None,
) -> None:
    """Ingestion per dataset, the outbox, the scheduler's jobs, scores and alerts, from the database."""
    from cluster.monitoring_sources import monitoring_sources  # imports Ray: only this command pays for it

    settings = settings_or_exit()
    with services_or_exit(settings) as services:
        sources = monitoring_sources(services, schedules)
        try:
            with psycopg.connect(services.database_url, connect_timeout=10, autocommit=True) as conn:
                figures = read_figures(conn, datasets=sources.datasets, jobs=sources.jobs)
        except psycopg.errors.UndefinedTable:
            raise fail("the database has no schema yet: run `vsentinel db upgrade` first") from None
        except psycopg.Error as error:
            raise fail(f"cannot read the database: {error}".strip()) from None
    if as_json_output:
        emit_json(as_json(figures))
        return
    console.print(render(figures))


def render(f: Figures) -> Group:
    problems = attention(f)
    headline = Text(f"ViolationSentinel at {_when(f.at)}: ", style="bold")
    headline.append(f"{len(problems)} need attention" if problems else "all clear", "red" if problems else "green")
    parts: list[Text | Table] = [headline]
    parts += [Text(f"  ! {line}", style="red") for line in problems]
    parts += [_datasets(f), _jobs(f), _summary(f)]
    return Group(*parts)


def _datasets(f: Figures) -> Table:
    table = Table(title="Ingestion", title_justify="left", expand=False)
    for column in ("dataset", "last run", "status", "finished", "lag", "fetched", "written", "rejected", "rejects"):
        table.add_column(column, justify="right" if column in ("lag", "fetched", "written", "rejected") else "left")
    for d in f.datasets:
        lag = d.lag_seconds(f.at)
        rows = d.last_run_rows
        table.add_row(
            d.dataset,
            str(d.last_run_id) if d.last_run_id else "-",
            _status(d.last_run_status or "never"),
            _when(d.last_run_finished_at),
            human_seconds(lag) if lag is not None else "-",
            f"{rows['fetched']:,}",
            f"{rows['inserted'] + rows['updated']:,}",
            f"{rows['rejected']:,}",
            f"{d.rejects_stored:,} kept",
        )
    return table


def _jobs(f: Figures) -> Table:
    table = Table(title="Scheduler", title_justify="left")
    for column in ("job", "last", "started", "last success", "failed (24 h)", "detail"):
        table.add_column(column)
    for job in f.jobs:
        table.add_row(
            job.job,
            _status(job.last_outcome or "never"),
            _when(job.last_started_at),
            _when(job.last_success_at),
            str(job.runs_last_day.get("failed", 0)),
            Text((job.last_detail or "")[:60]),
        )
    return table


def _summary(f: Figures) -> Table:
    o, s, db = f.outbox, f.scores, f.database
    table = Table(title="Outbox, scores, alerts, database", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("figures")
    latency = (
        f"p50 {human_seconds(o.latency_p50_seconds)}, p95 {human_seconds(o.latency_p95_seconds or 0)}"
        if o.latency_p50_seconds is not None
        else "none sent"
    )
    table.add_row(
        "outbox",
        f"{o.by_status['pending']} pending, {o.by_status['sending']} sending, {o.by_status['dead']} dead, "
        f"{o.by_status['sent']:,} sent; oldest due waiting {human_seconds(o.oldest_due_seconds)}",
    )
    table.add_row("delivery (last hour)", f"{o.delivered_last_hour} immediate; {latency}")
    age = scores_age_seconds(f)
    models = ", ".join(f"{kind} {version}" for kind, version in s.active_models.items()) or "no active model"
    table.add_row(
        "scores",
        f"{s.buildings:,} buildings scored for {s.latest_day or 'no day yet'}; newest"
        f" {human_seconds(age) + ' old' if age is not None else 'never'}; {models}",
    )
    table.add_row("alerts", f"{f.alerts_today} today, {f.alerts_total:,} in all")
    table.add_row("database", f"{db.connections} of {db.usable} usable connections")
    return table


def _status(value: str) -> Text:
    style = {"succeeded": "green", "failed": "red", "partial": "yellow", "running": "cyan"}.get(value, "dim")
    return Text(value, style=style)


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"
