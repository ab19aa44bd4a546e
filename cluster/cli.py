"""`vsentinel`: the command line of ViolationSentinel."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cluster.cli_audit import audit_app
from cluster.cli_backup import backup_app, restore_command
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
from sentinel.embedded import Services, local_services
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
        outcome = _evaluate_alerts(services.database_url, result.run_id)
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


def _evaluate_alerts(database_url: str, run_id: int) -> Any:
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


def _demo_model(database_url: str, settings: Settings, ground_truth: Path) -> None:
    """Trains the four risk models once (no sweep), promotes them, and scores every building."""
    import psycopg

    from sentinel.risk.service import ScoreService, connect_to
    from training import pipeline
    from training.config import load_training_settings

    with psycopg.connect(database_url) as conn:
        if conn.execute("SELECT count(*) FROM models WHERE is_active").fetchone()[0] < 4:
            console.print("training the risk models on Ray (one run, no sweep)")
            pipeline.run(
                conn,
                load_training_settings(),
                settings.resolved_model_dir,
                settings.data_dir / "ray_results",
                promote=True,
                ground_truth=ground_truth,
                log=console.print,
            )
    written = ScoreService(connect_to(database_url), model_dir=settings.resolved_model_dir).score_all()
    console.print(f"scored {written} buildings")


def _demo_channels(mailbox_port: int) -> Any:
    """Email to the demo's local mailbox, everything else to the console."""
    from sentinel.channels.settings import ChannelSettings, SmtpSettings

    smtp = SmtpSettings(host="127.0.0.1", port=mailbox_port)
    return ChannelSettings(enabled=frozenset({"console", "email"}), smtp=smtp)


def _deliver(database_url: str, channel_settings: Any) -> None:
    """Send what the evaluations queued (a later day's catch-up is news; a first load queues nothing)."""
    from sentinel.alerts.outbox import Outbox
    from sentinel.channels.registry import build_channels

    drained = Outbox(database_url, build_channels(channel_settings)).drain()
    if drained.sent:
        console.print(f"notifications: {drained.sent} sent")


def _evaluate_time_based(database_url: str) -> None:
    import psycopg

    from sentinel.alerts.engine import evaluate_time_based

    with psycopg.connect(database_url, autocommit=True) as conn:
        outcome = evaluate_time_based(conn)
    console.print(
        f"deadline checks and new rules' baselines: {outcome.alerts_created} new alerts "
        f"({outcome.baseline} already open when monitoring began), {outcome.notifications} notifications queued"
    )


def _print_upcoming(database_url: str, today: date) -> None:
    from cluster.demo import upcoming_deadlines

    total, first = upcoming_deadlines(database_url, today)
    table = Table(title=f"Upcoming deadlines in the watched portfolio ({total} in the next 60 days)")
    for column in ("due", "deadline", "BBL", "address", "violation"):
        table.add_column(column)
    for due, kind, bbl, address, source, source_id, klass in first:
        what = f"{source} {klass or ''} {source_id}"
        table.add_row(due.isoformat(), kind.replace("_", "-"), bbl, address or "-", what)
    console.print(table)


@contextlib.contextmanager
def _live_city(city: Any, replay: Any, database_url: str, channel_settings: Any, today: Any) -> Iterator[None]:
    """The scheduler on a one-minute cadence plus the change publisher, both stopped on exit."""
    import psycopg

    from cluster.demo import publish_forever, watched_templates
    from cluster.scheduler import JobSpec, ScheduleConfig, start_scheduler, stop_scheduler

    config = ScheduleConfig(
        jobs=(
            JobSpec(name="ingest", cron="* * * * *", kind="ingest", options={"engine": "ray"}),
            JobSpec(name="time_alerts", cron="* * * * *", kind="time_alerts"),
            JobSpec(name="notify", cron="* * * * *", kind="notify"),
        )
    )
    start_scheduler(database_url, replay.url, config=config, channel_settings=channel_settings)
    with psycopg.connect(database_url) as conn:
        open_ids = [
            r[0]
            for r in conn.execute(
                "SELECT v.source_id FROM violations v JOIN portfolio_buildings pb USING (bbl)"
                " WHERE v.source = 'HPD' AND v.status = 'open' ORDER BY v.issued_date NULLS FIRST, v.id LIMIT 500"
            )
        ]
    stop = threading.Event()
    publisher = threading.Thread(
        target=publish_forever,
        args=(city, replay, watched_templates(database_url, replay.url), open_ids, today, stop),
        kwargs={"log": lambda line: console.print(f"[cyan]live:[/] {escape(line)}")},
        daemon=True,
    )
    publisher.start()
    console.print("live mode: a change every minute, ingested, alerted and mailed by the scheduler")
    try:
        yield
    finally:
        stop.set()
        publisher.join(5)
        import ray

        if ray.is_initialized():  # the API's shutdown may already have taken the local Ray (and the actor) down
            stop_scheduler()


@app.command()
def demo(
    buildings: int = typer.Option(300, min=10, help="Size of the synthetic city."),
    seed: int = typer.Option(7, help="Seed of the synthetic city."),
    serve: bool = typer.Option(True, help="End with the API up (Ctrl-C stops it)."),
    live: bool = typer.Option(False, help="With the API up, publish a change every minute and run the scheduler."),
    train: bool = typer.Option(True, help="Train and score the risk models (without: risk routes answer 503)."),
    port: int | None = typer.Option(None, help="API port (default VS_SERVE_HTTP_PORT)."),
    today: str | None = typer.Option(
        None, help="The city's date for this run, YYYY-MM-DD (default: today in New York); the city ends on it."
    ),
) -> None:
    """The whole system on this machine: embedded services, a synthetic city that ends today behind the replay
    server, ingestion on Ray, alert evaluation with email to a local mailbox, risk models trained and every
    building scored, then the API on Ray Serve."""
    from actors.ingestion import PipelineShape
    from cluster import ray_runtime
    from cluster.demo import DEMO_LOGIN, bring_up_to_date, demo_organization, prepare_city
    from cluster.ingest import run_ingestion
    from sentinel.deadlines import city_today
    from sentinel.mailbox import start_mailbox
    from sentinel.replay.server import serve_in_background

    settings = settings_or_exit()
    try:
        day = date.fromisoformat(today) if today else city_today(datetime.now(UTC))
    except ValueError:
        raise fail(f"--today {today!r} is not a date (YYYY-MM-DD)", code=2) from None
    if serve:
        port_or_exit("127.0.0.1", port or settings.serve_http_port)
    with services_or_exit(settings) as services, contextlib.ExitStack() as stack:
        upgrade_or_exit(services)
        try:
            city = prepare_city(settings.data_dir, buildings, seed, day, console.print)
        except ValueError as error:
            raise fail(str(error), code=2) from None
        mailbox = start_mailbox(settings.data_dir / "mailbox")
        stack.callback(mailbox.stop)
        channels = _demo_channels(mailbox.port)
        info = ray_runtime.connect_shared(settings, long_running=serve)
        if info.dashboard_url:
            console.print(f"Ray dashboard: {info.dashboard_url}")
        replay = stack.enter_context(serve_in_background(city.path, cache=True))
        console.print(f"replay server (local NYC Open Data) at {replay.url}")
        bring_up_to_date(city, replay, replay.url, day, console.print)
        result = run_ingestion(
            database_url=services.database_url,
            source_url=replay.url,
            app_token=None,
            datasets=list(load_datasets()),
            incremental=True,
            shape=PipelineShape.from_settings(settings, page_size=5_000),
            console=console,
        )
        if result.failed:
            raise fail("ingestion failed (see the table above)")
        demo_organization(services.database_url)
        _evaluate_alerts(services.database_url, result.run_id)
        _evaluate_time_based(services.database_url)
        _deliver(services.database_url, channels)
        _print_upcoming(services.database_url, day)
        console.print(f"mailbox: {mailbox.directory} (`vsentinel mailbox` lists it; each .eml opens in a mail client)")
        if train:
            _demo_model(services.database_url, settings, city.path / "ground_truth")
        if not run_doctor(settings, services):
            raise fail("the demo environment is unhealthy (see the table above)")
        if not serve:
            console.print("[bold green]demo finished: ingested, alerted, trained and scored[/]")
            return
        from cluster.cli_serve import start_api

        if live:
            stack.enter_context(
                _live_city(city, replay, services.database_url, channels, lambda: city_today(datetime.now(UTC)))
            )
        console.print(f"demo login: [bold]{DEMO_LOGIN[0]}[/] / [bold]{DEMO_LOGIN[1]}[/] (Ctrl-C stops the API)")
        start_api(settings, services, host="127.0.0.1", port=port or settings.serve_http_port)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
