"""`vsentinel`: the command line of ViolationSentinel."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import typer
from rich.text import Text

from cluster.cli_audit import audit_app
from cluster.cli_backup import backup_app, restore_command
from cluster.cli_demo import demo_command
from cluster.cli_exporter import exporter_command
from cluster.cli_mailbox import mailbox_command
from cluster.cli_model import model_app, score_command, train_command
from cluster.cli_org import org_app
from cluster.cli_replay import replay_app
from cluster.cli_schedule import schedule_app
from cluster.cli_serve import serve_command
from cluster.cli_status import status_command
from cluster.cli_synth import synth_command
from cluster.console import console, emit_json, err_console, machine_output
from cluster.console import table as console_table
from sentinel import logs
from sentinel.datasets import load_datasets
from sentinel.db import migrate
from sentinel.db.roles import RoleError
from sentinel.doctor import Check, check_audit_log, check_postgres, check_redis
from sentinel.embedded import Services, ServicesNotConfiguredError, local_services
from sentinel.ports import PortInUseError, ensure_free
from sentinel.settings import Settings, SettingsError, get_settings

app = typer.Typer(
    name="vsentinel",
    help="ViolationSentinel: NYC building violations, risk scores and alerts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The PostgreSQL schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(replay_app, name="replay")
app.add_typer(schedule_app, name="schedule")
app.add_typer(model_app, name="model")
app.add_typer(org_app, name="org")
app.add_typer(audit_app, name="audit")
app.add_typer(backup_app, name="backup")
app.command("train")(train_command)
app.command("score")(score_command)
app.command("serve")(serve_command)
app.command("synth")(synth_command)
app.command("mailbox")(mailbox_command)
app.command("restore")(restore_command)
app.command("status")(status_command)
app.command("exporter")(exporter_command)
app.command("demo")(demo_command)


@app.callback()
def _options(
    log_json: bool = typer.Option(
        False, "--log-json", help="Log to stderr as JSON lines (default: VS_DATA_DIR/logs/vsentinel.log)."
    ),
) -> None:
    if log_json:  # read by settings_or_exit, and inherited by the processes this one starts
        os.environ["VS_LOG_TO"] = "stderr"
        os.environ["VS_LOG_FORMAT"] = "json"


# `vsentinel ingest`: 0 succeeded, 1 a dataset failed (errors or too many rejects), 2 bad usage, 3 partial (a
# deletion guard held back tombstones: the source came back empty or shrunken).
EXIT_PARTIAL = 3


def fail(message: str, code: int = 1) -> typer.Exit:
    # The message is text, never markup: error text quotes user input and exceptions (`[x]`, `[/]`).
    err_console.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)  # one line, for logs
    return typer.Exit(code)


def port_or_exit(host: str, port: int) -> None:
    """Checks the API port before anything starts: Serve's proxy would fail inside Ray, cause only in its logs."""
    try:
        ensure_free(host, port)
    except PortInUseError as error:
        raise fail(f"{error}; stop it or choose another port with --port or VS_SERVE_HTTP_PORT") from None


def settings_or_exit() -> Settings:
    try:
        settings = get_settings()
    except SettingsError as error:
        raise fail(str(error), code=2) from None
    log_file = settings.log_file if settings.log_to == "file" else None
    logs.configure_cli(settings.log_level, settings.log_format, log_file)
    return settings


@contextlib.contextmanager
def services_or_exit(settings: Settings) -> Iterator[Services]:
    try:
        with local_services(settings) as services:
            yield services
    except typer.Exit:  # a command's own failure inside the block, already reported
        raise
    except ServicesNotConfiguredError as error:
        raise fail(str(error), code=2) from None
    except (OSError, RuntimeError) as error:
        raise fail(f"could not start the local services: {error}") from None


def upgrade_or_exit(services: Services) -> None:
    try:
        applied, app_role = migrate.upgrade_roles(services.migration_url, services.database_url)
    except RoleError as error:
        raise fail(f"database roles: {error}") from None
    except migrate.EditedMigrationError as error:
        raise fail(str(error)) from None
    except Exception as error:
        raise fail(f"migration failed, nothing after the last good one was applied: {error}") from None
    if app_role is None:
        err_console.print(
            "[yellow]warning:[/] the application logs in as the schema owner, so nothing stops it from altering the"
            " audit log; set VS_DATABASE_OWNER_URL to the owner and VS_DATABASE_URL to an application role"
            " (README: Database roles and the audit log)"
        )
    if applied:
        for migration in applied:
            console.print(f"applied [bold]{migration.version:04d}[/] {migration.name}")
    else:
        console.print("schema is up to date")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    settings = settings_or_exit()
    with services_or_exit(settings) as services:
        upgrade_or_exit(services)


@db_app.command("status")
def db_status() -> None:
    """Show the schema version and pending migrations."""
    settings = settings_or_exit()
    with services_or_exit(settings) as services:
        try:
            state = migrate.status(services.migration_url)
        except Exception as error:
            raise fail(f"cannot read the schema: {error}") from None
    console.print(f"schema version: {state.current if state.current is not None else 'none'} of {state.latest}")
    for migration in state.pending:
        console.print(f"pending: {migration.version:04d} {migration.name}")
    for migration in state.edited:
        console.print(f"edited since applied: {migration.path}")
    if not state.up_to_date:
        raise typer.Exit(1)


def _ray_check(settings: Settings) -> Check:
    from cluster import ray_runtime

    try:
        info = ray_runtime.connect_shared(settings, long_running=False)
    except Exception as error:
        return Check("ray", False, settings.ray_address or "local", detail=str(error).splitlines()[0])
    return Check("ray", True, info.address, version=info.version, detail=f"{info.mode}, {info.num_cpus:g} CPUs")


def run_doctor(settings: Settings, services: Services, *, with_ray: bool = True, as_json: bool = False) -> bool:
    checks = [
        check_postgres(services.database_url),
        check_audit_log(services.database_url),
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


JSON_HELP = "Print the result as one JSON document on stdout (nothing else goes there)."


@app.command()
def doctor(
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


@app.command()
def stop(timeout: float = typer.Option(60.0, min=1, help="Seconds the owning command gets to end itself.")) -> None:
    """End the local stack of VS_DATA_DIR: the commands that started its local Ray and its embedded PostgreSQL
    and Redis are asked to end (SIGINT), then whatever of the stack still runs is stopped."""
    from sentinel import stack

    settings = settings_or_exit()
    ray_record = stack.stop_ray(settings.data_dir, timeout_s=timeout)
    if ray_record is not None:
        console.print(
            f"stopped the local Ray of {settings.data_dir} (owner pid {ray_record.owner.pid}; {ray_record.address})",
            markup=False,
        )
    record = stack.stop(settings.data_dir, timeout_s=timeout)
    if record is None:
        if ray_record is None:
            console.print(f"no local stack running for {settings.data_dir}", markup=False)
        return
    servers = ", ".join(f"{name} pid {proc.pid}" for name, proc in record.servers())
    console.print(
        f"stopped the local stack of {settings.data_dir} (owner pid {record.owner.pid}; {servers})", markup=False
    )


@app.command()
def ingest(
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
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Ingest NYC Open Data into PostgreSQL with Ray actors.

    Exit code 0 when every dataset succeeded, 1 when one failed (an error, or rejects over
    VS_INGEST_MAX_REJECT_SHARE), 3 when the run is partial (a source came back empty or shrunken and its
    deletions were held back: see `vsentinel quality`)."""
    from actors.ingestion import PipelineShape
    from cluster import ray_runtime
    from cluster.ingest import run_ingestion

    machine_output(as_json)
    settings = settings_or_exit()
    catalog = load_datasets()
    chosen = list(datasets or catalog)
    unknown = [name for name in chosen if name not in catalog]
    if unknown:
        raise fail(f"unknown dataset(s): {', '.join(unknown)}; known: {', '.join(catalog)}", code=2)
    with services_or_exit(settings) as services:
        upgrade_or_exit(services)
        ray_runtime.connect_shared(settings, long_running=False)
        result = run_ingestion(
            database_url=services.database_url,
            source_url=(source or settings.socrata_url).rstrip("/"),
            app_token=app_token or settings.socrata_app_token,
            datasets=chosen,
            incremental=incremental and not full,
            shape=PipelineShape.from_settings(settings, page_size=page_size),
            console=console,
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


@app.command()
def quality(
    run: int | None = typer.Option(None, "--run", help="Ingestion run id (default: the latest finished run)."),
    examples: int = typer.Option(5, min=0, max=100, help="Stored rows to show with their problems."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Data quality of an ingestion run: field problems by dataset, field and reason; rejects by reason;
    duplicates; how address-only records were located; deletions held back by a guard."""
    import psycopg

    from sentinel.ingest.quality_report import run_report

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


def evaluate_alerts(database_url: str, run_id: int) -> Any:
    """Alert rules see what the run changed right after it committed (the scheduler does the same)."""
    import psycopg

    from sentinel.alerts.engine import evaluate_run

    with psycopg.connect(database_url, autocommit=True) as conn:
        outcome = evaluate_run(conn, run_id)
    console.print(
        f"alerts: {outcome.events} changes evaluated, {outcome.alerts_created} new alerts "
        f"({outcome.baseline} already open when monitoring began, not notified), "
        f"{outcome.notifications} notifications queued"
    )
    return outcome


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
