"""The scheduler actor: Ray has no cron, so a detached named actor fires the jobs of configs/schedules.yaml.

The schedule itself (configuration, what is due, one firing per (job, due time) under a PostgreSQL lock, the
record in schedule_runs) is `sentinel.scheduling.ScheduleCore`, without Ray; this module adds the job runners
(ingestion, alerts, scoring, training, backups) and the actor that runs the core in a background thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import psycopg
import ray

from actors.alerts import AlertEvaluator, Drainer, Evaluator, Notifier
from cluster.ingest import run_ingestion
from cluster.ray_runtime import NAMESPACE
from sentinel.artifact_store import from_settings
from sentinel.backup.create import run_backup
from sentinel.backup.settings import load_backup_settings
from sentinel.backup.stores import open_store
from sentinel.datasets import load_datasets
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from sentinel.risk.service import ScoreService, connect_to
from sentinel.scheduling import (
    Clock,
    Firing,
    JobRunner,
    JobSpec,
    ScheduleConfig,
    ScheduleCore,
    job_status,
    load_schedules,
)
from sentinel.settings import get_settings
from sentinel.source_pages import prune_source_pages
from training.config import load_training_settings

SCHEDULER_NAME = "vsentinel-scheduler"


class AlertsPort(Protocol):
    """What the jobs need from the alert side: the actors in production, in-process objects in tests."""

    def evaluate_run(self, run_id: int) -> dict[str, Any]: ...
    def evaluate_time_based(self) -> dict[str, Any]: ...
    def evaluate_scores(self) -> dict[str, Any]: ...
    def drain(self) -> dict[str, Any]: ...


class LocalAlerts:
    def __init__(self, database_url: str, channel_settings: Any = None) -> None:
        self._evaluator = Evaluator(database_url)
        self._drainer = Drainer(database_url, channel_settings)

    def evaluate_run(self, run_id: int) -> dict[str, Any]:
        return self._evaluator.evaluate_run(run_id)

    def evaluate_time_based(self) -> dict[str, Any]:
        return self._evaluator.evaluate_time_based()

    def evaluate_scores(self) -> dict[str, Any]:
        return self._evaluator.evaluate_scores()

    def drain(self) -> dict[str, Any]:
        return self._drainer.drain_once()


class RemoteAlerts:
    def __init__(self, database_url: str, channel_settings: Any = None) -> None:
        self._evaluator = AlertEvaluator.remote(database_url)
        self._notifier = Notifier.remote(database_url, channel_settings)

    def evaluate_run(self, run_id: int) -> dict[str, Any]:
        return ray.get(self._evaluator.evaluate_run.remote(run_id))

    def evaluate_time_based(self) -> dict[str, Any]:
        return ray.get(self._evaluator.evaluate_time_based.remote())

    def evaluate_scores(self) -> dict[str, Any]:
        return ray.get(self._evaluator.evaluate_scores.remote())

    def drain(self) -> dict[str, Any]:
        return ray.get(self._notifier.drain_once.remote())


IngestFn = Callable[[JobSpec], int]  # runs one incremental ingestion, returns its run id


def ingest_with(database_url: str, source_url: str, app_token: str | None) -> IngestFn:
    def ingest(job: JobSpec) -> int:
        datasets = list(job.options.get("datasets") or load_datasets())
        if job.options.get("engine", "ray") == "serial":
            run_id, _ = run_serial(database_url, SocrataSource(source_url, app_token), RunOptions(datasets))
            return run_id
        # The pipeline's actors stay up between firings: starting them is most of a small incremental run.
        result = run_ingestion(
            database_url=database_url,
            source_url=source_url,
            app_token=app_token,
            datasets=datasets,
            incremental=True,
            keep_pipeline=True,
        )
        return result.run_id

    return ingest


def default_runners(
    alerts: AlertsPort, ingest: IngestFn, database_url: str | None = None, owner_database_url: str | None = None
) -> dict[str, JobRunner]:
    def ingest_job(job: JobSpec, due_at: datetime) -> str:
        run_id = ingest(job)
        # The hook of data flow step 5: evaluate what this run committed, then send what it produced.
        evaluated = alerts.evaluate_run(run_id)
        drained = alerts.drain()
        return f"run {run_id}: {evaluated['alerts_created']} new alerts; {drained['sent']} notifications sent"

    def time_alerts_job(job: JobSpec, due_at: datetime) -> str:
        evaluated = alerts.evaluate_time_based()
        drained = alerts.drain()
        return f"{evaluated['alerts_created']} new alerts; {drained['sent']} notifications sent"

    def notify_job(job: JobSpec, due_at: datetime) -> str:
        drained = alerts.drain()
        return f"{drained['sent']} sent, {drained['retried']} to retry, {drained['dead']} dead"

    runners = {"ingest": ingest_job, "time_alerts": time_alerts_job, "notify": notify_job}
    if database_url is not None:
        settings = get_settings()
        runners.update(model_runners(database_url, alerts))
        # The backup reads as the owner when it is known: the dump then needs no grants of the application role.
        backup_url = owner_database_url or database_url
        runners.update(backup_runners(backup_url, settings.resolved_model_dir, settings.data_dir))
        runners["prune_source_pages"] = prune_source_pages_runner(database_url)
    return runners


def prune_source_pages_runner(database_url: str) -> JobRunner:
    """Removes the source record pages no row points at any more (sentinel/source_pages.py)."""

    def prune_source_pages_job(job: JobSpec, due_at: datetime) -> str:
        with psycopg.connect(database_url) as conn:
            pruned = prune_source_pages(conn)
        return f"{pruned} source record pages no row points at removed"

    return prune_source_pages_job


def model_runners(database_url: str, alerts: AlertsPort | None = None) -> dict[str, JobRunner]:
    """Scoring and retraining jobs over the registry's active models (sentinel.risk, training.pipeline). With
    `alerts`, a scoring job then evaluates the scores it stored against the `risk_score` rules and sends what they
    produced, as the ingestion job does for a run's records."""
    settings = get_settings()
    store = from_settings(settings)

    def score_service() -> ScoreService | None:
        service = ScoreService(connect_to(database_url), model_dir=store)
        return service if service.loaded.model is not None else None

    def scores_alerted() -> str:
        if alerts is None:
            return ""
        evaluated = alerts.evaluate_scores()
        drained = alerts.drain()
        return f"; {evaluated['alerts_created']} new alerts; {drained['sent']} notifications sent"

    def rescore_changed_job(job: JobSpec, due_at: datetime) -> str:
        service = score_service()
        if service is None:
            return "skipped: no active model"
        rescored = service.rescore_changed(settings.rescore_workers)
        return f"{rescored} changed buildings rescored" + scores_alerted()

    def score_daily_job(job: JobSpec, due_at: datetime) -> str:
        service = score_service()
        if service is None:
            return "skipped: no active model"
        return f"{service.score_all(workers=settings.score_workers)} buildings scored" + scores_alerted()

    def retrain_weekly_job(job: JobSpec, due_at: datetime) -> str:
        # Deferred: training.pipeline loads xgboost and pandas (seconds, and their memory for the life of the
        # scheduler's process) for a job that runs once a week.
        from training import pipeline

        with psycopg.connect(database_url) as conn:
            report = pipeline.run(
                conn,
                load_training_settings(),
                store,
                settings.resolved_ray_storage,
                tune=bool(job.options.get("tune", True)),
                log=lambda message: None,
            )
        # pipeline.run promotes a new model only where it beats the weighted-count baseline by more than a bootstrap
        # interval and the active model on the same split; a score no model beats is served by the calibrated count.
        return (
            f"trained {report.version}; promoted: {', '.join(report.promoted) or 'none'}; "
            f"served by the baseline: {', '.join(report.baselined) or 'none'}"
        )

    return {
        "rescore_changed": rescore_changed_job,
        "score_daily": score_daily_job,
        "retrain_weekly": retrain_weekly_job,
    }


def backup_runners(
    database_url: str, model_dir: Path, data_dir: Path, backup_settings: Any = None, clock: Clock | None = None
) -> dict[str, JobRunner]:
    """The daily backup (sentinel.backup): `database_url` is best the owner's login; `options.destination`
    overrides VS_BACKUP_DESTINATION. Retention runs after each successful backup."""

    def backup_job(job: JobSpec, due_at: datetime) -> str:
        settings = backup_settings or load_backup_settings()
        store = open_store(job.options.get("destination") or settings.destination_for(data_dir), settings)
        result = run_backup(database_url, model_dir, store, settings, clock=clock)
        manifest = result.manifest
        return (
            f"backup {manifest.id} to {result.location}: {manifest.size} bytes in {len(manifest.files)} files, "
            f"{manifest.duration_s:.1f} s; pruned: {', '.join(result.pruned) or 'none'}"
        )

    return {"backup": backup_job}


@ray.remote(num_cpus=0.1, max_concurrency=4, max_restarts=-1)
class Scheduler:
    """Fires the schedule in a background thread from the moment it is created; `tick()` fires what is due now
    (for tests and `vsentinel schedule run --once`), `status()` reads the record, `stop()` ends the loop."""

    def __init__(
        self,
        database_url: str,
        source_url: str,
        app_token: str | None = None,
        config: ScheduleConfig | None = None,
        channel_settings: Any = None,
        in_process_alerts: bool = False,
        autostart: bool = True,
        owner_database_url: str | None = None,
    ) -> None:
        alerts: AlertsPort = (
            LocalAlerts(database_url, channel_settings)
            if in_process_alerts
            else RemoteAlerts(database_url, channel_settings)
        )
        self._config = config or load_schedules()
        self._url = database_url
        ingest = ingest_with(database_url, source_url, app_token)
        runners = default_runners(alerts, ingest, database_url, owner_database_url)
        self._core = ScheduleCore(database_url, self._config, runners)
        self._core.recover()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if autostart:
            self.start()

    def start(self) -> bool:
        if self._thread is not None and self._thread.is_alive():
            return False
        self._stop.clear()
        self._thread = threading.Thread(target=self._core.run_until, args=(self._stop,), daemon=True)
        self._thread.start()
        return True

    def tick(self) -> list[Firing]:
        return self._core.tick()

    def status(self) -> list[dict[str, Any]]:
        return job_status(self._url, self._config)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=600)


def start_scheduler(database_url: str, source_url: str, **options: Any) -> Any:
    """The detached scheduler of this Ray cluster: created if missing, else the running one (one per cluster;
    a second one elsewhere would still fire each job once)."""
    return Scheduler.options(name=SCHEDULER_NAME, namespace=NAMESPACE, lifetime="detached", get_if_exists=True).remote(
        database_url, source_url, **options
    )


def stop_scheduler() -> bool:
    try:
        handle = ray.get_actor(SCHEDULER_NAME, namespace=NAMESPACE)
    except ValueError:
        return False
    try:
        ray.get(handle.stop.remote(), timeout=600)
    finally:
        ray.kill(handle)
    return True
