"""`vsentinel demo`: the whole system on this machine, over the product's own functions (cluster/demo.py holds
what only the demo does: its city, its organization and rules, the live publisher)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import typer
from rich.markup import escape

from cluster.cli_common import fail, port_or_exit, services_or_exit, settings_or_exit, upgrade_or_exit
from cluster.cli_doctor import run_doctor
from cluster.cli_ingest import evaluate_alerts
from cluster.cli_serve import start_api
from cluster.console import console
from cluster.console import table as console_table
from sentinel.artifact_store import from_settings
from sentinel.datasets import load_datasets
from sentinel.deadlines import city_today
from sentinel.risk import registry
from sentinel.settings import Settings


def _demo_model(database_url: str, settings: Settings, ground_truth: Path) -> None:
    """Trains the four risk models once (no sweep), promotes them, and scores every building."""
    # xgboost, pandas and Ray Train load only when the demo trains, not for `vsentinel --help`.
    from sentinel.risk.service import ScoreService, connect_to
    from training import pipeline
    from training.config import load_training_settings

    store = from_settings(settings)
    with psycopg.connect(database_url) as conn:
        if len(registry.active(conn)) < len(registry.SCORE_KINDS):
            console.print("training the risk models on Ray (one run, no sweep)")
            pipeline.run(
                conn,
                load_training_settings(),
                store,
                settings.resolved_ray_storage,
                promote=True,
                ground_truth=ground_truth,
                log=console.print,
            )
    written = ScoreService(connect_to(database_url), model_dir=store).score_all(workers=settings.score_workers)
    console.print(f"scored {written} buildings")


def _demo_channels(mailbox_port: int) -> Any:
    """Email to the demo's local mailbox, everything else to the console."""
    # The channels' clients load only when the demo runs, not for `vsentinel --help`.
    from sentinel.channels.settings import ChannelSettings, SmtpSettings

    smtp = SmtpSettings(host="127.0.0.1", port=mailbox_port)
    return ChannelSettings(enabled=frozenset({"console", "email"}), smtp=smtp)


def _deliver(database_url: str, channel_settings: Any) -> None:
    """Send what the evaluations queued (a later day's catch-up is news; a first load queues nothing)."""
    # The outbox and the channels' clients load only when the demo delivers, not for `vsentinel --help`.
    from sentinel.alerts.outbox import Outbox
    from sentinel.channels.registry import build_channels

    drained = Outbox(database_url, build_channels(channel_settings)).drain()
    if drained.sent:
        console.print(f"notifications: {drained.sent} sent")


def _evaluate_time_based(database_url: str) -> None:
    from sentinel.alerts.engine import evaluate_time_based  # the engine's imports: only the demo's run pays

    with psycopg.connect(database_url, autocommit=True) as conn:
        outcome = evaluate_time_based(conn)
    console.print(
        f"deadline checks and new rules' baselines: {outcome.alerts_created} new alerts "
        f"({outcome.baseline} already open when monitoring began), {outcome.notifications} notifications queued"
    )


def _print_upcoming(database_url: str, today: date) -> None:
    from cluster import demo  # the city, the replay server and the API's bootstrap: only `vsentinel demo` pays

    total, first = demo.upcoming_deadlines(database_url, today)
    title = f"Upcoming deadlines in the watched portfolio ({total} in the next 60 days)"
    table = console_table("due", "deadline", "BBL", "address", "violation", title=title)
    for due, kind, bbl, address, source, source_id, klass in first:
        what = f"{source} {klass or ''} {source_id}"
        table.add_row(due.isoformat(), kind.replace("_", "-"), bbl, address or "-", what)
    console.print(table)


@contextlib.contextmanager
def _live_city(city: Any, replay: Any, database_url: str, channel_settings: Any, today: Any) -> Iterator[None]:
    """The scheduler on a one-minute cadence plus the change publisher, both stopped on exit."""
    import ray  # Ray and the scheduler actor load only in live mode

    from cluster import demo
    from cluster.scheduler import start_scheduler, stop_scheduler
    from sentinel.scheduling import JobSpec, ScheduleConfig

    config = ScheduleConfig(
        jobs=(
            JobSpec(name="ingest", cron="* * * * *", kind="ingest", options={"engine": "ray"}),
            JobSpec(name="time_alerts", cron="* * * * *", kind="time_alerts"),
            JobSpec(name="notify", cron="* * * * *", kind="notify"),
        )
    )
    start_scheduler(database_url, replay.url, config=config, channel_settings=channel_settings)
    open_ids = demo.watched_open_hpd_ids(database_url)
    stop = threading.Event()
    publisher = threading.Thread(
        target=demo.publish_forever,
        args=(city, replay, demo.watched_templates(database_url, replay.url), open_ids, today, stop),
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
        if ray.is_initialized():  # the API's shutdown may already have taken the local Ray (and the actor) down
            stop_scheduler()


def demo_command(
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
    # Ray, the pipeline's actors, the city, the replay server, the mailbox and the API's bootstrap load only when
    # the demo runs, not for `vsentinel --help`.
    from citysim.replay.server import serve_in_background
    from cluster import demo, ray_runtime
    from cluster.ingest import run_ingestion
    from sentinel.ingest.flow import PipelineShape
    from sentinel.mailbox import start_mailbox

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
            city = demo.prepare_city(settings.data_dir, buildings, seed, day, console.print)
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
        demo.bring_up_to_date(city, replay, replay.url, day, console.print)
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
        demo.demo_organization(services.database_url)
        evaluate_alerts(services.database_url, result.run_id)
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
        if live:
            stack.enter_context(
                _live_city(city, replay, services.database_url, channels, lambda: city_today(datetime.now(UTC)))
            )
        login, password = demo.DEMO_LOGIN
        console.print(f"demo login: [bold]{login}[/] / [bold]{password}[/] (Ctrl-C stops the API)")
        start_api(settings, services, host="127.0.0.1", port=port or settings.serve_http_port)
