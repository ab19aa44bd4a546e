"""`vsentinel ingest` (NYC Open Data into PostgreSQL on Ray actors, then the alert rules over what changed) and
`vsentinel quality` (what a run's data looked like)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import psycopg
import typer

from cluster.cli_common import JSON_HELP, fail, services_or_exit, settings_or_exit, upgrade_or_exit
from cluster.console import console, emit_json, machine_output
from cluster.console import table as console_table
from sentinel.datasets import load_datasets
from sentinel.ingest.quality_report import run_report

if TYPE_CHECKING:
    from sentinel.alerts.engine import EvaluationResult

# `vsentinel ingest`: 0 succeeded, 1 a dataset failed (errors or too many rejects), 2 bad usage, 3 partial (a
# deletion guard held back tombstones: the source came back empty or shrunken).
EXIT_PARTIAL = 3


def ingest_command(
    datasets: list[str] = typer.Option(  # noqa: B008 - typer reads options from defaults
        None, "--datasets", "-d", help="Dataset names from configs/datasets.yaml (default: all)."
    ),
    full: bool = typer.Option(False, "--full", help="Re-read every row (default: incremental by :updated_at)."),
    incremental: bool = typer.Option(True, "--incremental", help="Read what changed since the last run."),
    source: str | None = typer.Option(None, "--source", help="Socrata base URL (default VS_SOCRATA_URL)."),
    app_token: str | None = typer.Option(None, "--app-token", help="Socrata app token (default VS_SOCRATA_APP_TOKEN)."),
    page_size: int | None = typer.Option(
        None, min=100, max=50_000, help="Rows per request (default VS_INGEST_PAGE_SIZE, 10,000)."
    ),
    engine: str | None = typer.Option(
        None,
        "--engine",
        help="ray: actors on the connected Ray (or a private one); local: this machine's processes, no Ray "
        "(default VS_INGEST_ENGINE, ray).",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Ingest NYC Open Data into PostgreSQL with Ray actors (or, with --engine local, this machine's processes).

    Exit code 0 when every dataset succeeded, 1 when one failed (an error, or rejects over
    VS_INGEST_MAX_REJECT_SHARE), 3 when the run is partial (a source came back empty or shrunken and its
    deletions were held back: see `vsentinel quality`)."""
    # Ray and the pipeline's actors load only when a run starts, not for `vsentinel --help` or `quality`.
    from cluster.ingest import ENGINES, run_ingestion
    from sentinel.ingest.flow import PipelineShape

    machine_output(as_json)
    settings = settings_or_exit()
    chosen_engine = engine or settings.ingest_engine
    if chosen_engine not in ENGINES:
        raise fail(f"unknown engine {chosen_engine!r}; known: {', '.join(ENGINES)}", code=2)
    catalog = load_datasets()
    chosen = list(datasets or catalog)
    unknown = [name for name in chosen if name not in catalog]
    if unknown:
        raise fail(f"unknown dataset(s): {', '.join(unknown)}; known: {', '.join(catalog)}", code=2)
    with services_or_exit(settings) as services:
        upgrade_or_exit(services)
        if chosen_engine == "ray":
            from cluster import ray_runtime

            ray_runtime.connect_shared(settings, long_running=False)
        else:
            from sentinel.ingest.heap import limit_arenas

            limit_arenas()  # this process's threads pass pages along (benchmarks/RESULTS.md, "Load efficiency")
        result = run_ingestion(
            database_url=services.database_url,
            source_url=(source or settings.socrata_url).rstrip("/"),
            app_token=app_token or settings.socrata_app_token,
            datasets=chosen,
            incremental=incremental and not full,
            shape=PipelineShape.from_settings(settings, page_size=page_size),
            console=console,
            engine=chosen_engine,
        )
        outcome = evaluate_alerts(services.database_url, result.run_id)
    if as_json:
        alerts = {k: v for k, v in asdict(outcome).items() if k != "alert_ids"}
        emit_json({**asdict(result), "alerts": alerts})
    if result.failed:
        raise fail(f"{len(result.failed)} dataset(s) failed: {', '.join(s.dataset for s in result.failed)}")
    if result.held:
        names = ", ".join(s.dataset for s in result.held)
        raise fail(
            f"run {result.run_id} is partial: deletions held back for {names} (source anomaly)", code=EXIT_PARTIAL
        )


def quality_command(
    run: int | None = typer.Option(None, "--run", help="Ingestion run id (default: the latest finished run)."),
    examples: int = typer.Option(5, min=0, max=100, help="Stored rows to show with their problems."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Data quality of an ingestion run: field problems by dataset, field and reason; rejects by reason;
    duplicates; how address-only records were located; deletions held back by a guard."""
    machine_output(as_json)
    settings = settings_or_exit()
    with services_or_exit(settings) as services, psycopg.connect(services.database_url) as conn:
        report = run_report(conn, run, examples=examples)
    if report is None:
        raise fail(f"no ingestion run {run}" if run is not None else "no finished ingestion run yet")
    if as_json:
        emit_json(report)
        return
    console.print(
        f"[bold]ingestion run {report.run_id}[/]: {report.status}, started {report.started_at:%Y-%m-%d %H:%M}"
    )
    if report.error:
        console.print(f"  {report.error}", markup=False)
    sections = [
        ("field problems (value kept as NULL, raw value on the row)", ("dataset", "field", "reason", "rows"),
         report.problems),
        ("rejected records", ("dataset", "reason", "records"), report.rejects),
        ("duplicate keys within a page (later state kept)", ("dataset", "records"), report.duplicates),
        ("address-only records located", ("dataset", "bbl_source", "records"), report.located),
        ("source anomalies (deletions held back)", ("dataset", "kind", "live", "at source", "held", "detail"),
         [tuple(a.values()) for a in report.anomalies]),
        ("examples", ("table", "source", "id", "bbl", "quality"), [tuple(e.values()) for e in report.examples]),
    ]  # fmt: skip
    for title, columns, lines in sections:
        if not lines:
            continue
        table = console_table(*columns, title=title)
        for line in lines:
            table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in line))
        console.print(table)
    if not any(lines for _, _, lines in sections):
        console.print("[green]no field problems, rejects, duplicates or anomalies recorded[/]")


def evaluate_alerts(database_url: str, run_id: int) -> EvaluationResult:
    """Alert rules see what the run changed right after it committed (the scheduler does the same)."""
    from sentinel.alerts.engine import evaluate_run  # the engine's imports: only the commands that evaluate pay

    with psycopg.connect(database_url, autocommit=True) as conn:
        outcome = evaluate_run(conn, run_id)
    console.print(
        f"alerts: {outcome.events} changes evaluated, {outcome.alerts_created} new alerts "
        f"({outcome.baseline} already open when monitoring began, not notified), "
        f"{outcome.notifications} notifications queued"
    )
    return outcome
