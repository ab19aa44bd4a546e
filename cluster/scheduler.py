"""The scheduler: Ray has no cron, so a detached named actor fires the jobs of configs/schedules.yaml and keeps
its memory in PostgreSQL (schedule_runs), where a restarted actor, a second scheduler and `vsentinel schedule
status` all read it.

One firing per (job, due time), however many schedulers run: the firing holds a PostgreSQL advisory lock on
(job, due time) while it runs and claims the due time with `INSERT .. ON CONFLICT (job, due_at) DO NOTHING`;
whoever does not get both skips it. Only a job's latest due time is ever fired, so a job missed while no
scheduler was up runs once at start, not once per missed slot. A firing left 'running' by a dead process (its
advisory lock is free again) is closed as failed when a scheduler starts.

`ScheduleCore` is the whole logic without Ray (tests run two of them in threads); `Scheduler` is the actor.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

import psycopg
import ray
import yaml
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cluster.ray_runtime import NAMESPACE
from sentinel.settings import CONFIG_DIR

log = logging.getLogger(__name__)

SCHEDULER_NAME = "vsentinel-scheduler"
DEFAULT_SCHEDULES = CONFIG_DIR / "schedules.yaml"
JobKind = Literal["ingest", "time_alerts", "notify", "rescore_changed", "score_daily", "retrain_weekly", "backup"]
Clock = Callable[[], datetime]


class JobSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    cron: str
    kind: JobKind
    enabled: bool = True
    note: str = ""
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"not a cron expression: {value!r}")
        return value


class ScheduleConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = "America/New_York"
    jobs: tuple[JobSpec, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def previous_due(self, job: JobSpec, now: datetime) -> datetime:
        """The latest due time of `job` at or before `now` (UTC)."""
        probe = now.astimezone(self.zone) + timedelta(microseconds=1)  # a due time equal to `now` counts
        return croniter(job.cron, probe).get_prev(datetime).astimezone(UTC)

    def next_due(self, job: JobSpec, now: datetime) -> datetime:
        return croniter(job.cron, now.astimezone(self.zone)).get_next(datetime).astimezone(UTC)


def load_schedules(path: str | Path | None = None) -> ScheduleConfig:
    data = yaml.safe_load(Path(path or DEFAULT_SCHEDULES).read_text(encoding="utf-8")) or {}
    jobs = [{"name": name, **spec} for name, spec in (data.get("jobs") or {}).items()]
    return ScheduleConfig(timezone=data.get("timezone", "America/New_York"), jobs=tuple(jobs))


@dataclass(frozen=True)
class Firing:
    job: str
    due_at: datetime
    outcome: Literal["succeeded", "failed"]
    detail: str


JobRunner = Callable[[JobSpec, datetime], str]  # returns the detail to record; raises when the job failed


class ScheduleCore:
    def __init__(
        self,
        database_url: str,
        config: ScheduleConfig,
        runners: Mapping[str, JobRunner],
        clock: Clock | None = None,
    ) -> None:
        self._url = database_url
        self.config = config
        self._runners = runners
        self._clock = clock or (lambda: datetime.now(UTC))

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(self._url, autocommit=True, application_name="vsentinel-scheduler")

    def recover(self) -> int:
        """Close firings left 'running' by a process that died (nobody holds their lock any more)."""
        closed = 0
        with self._connect() as conn:
            for row_id, job, due_at in conn.execute(
                "SELECT id, job, due_at FROM schedule_runs WHERE outcome = 'running'"
            ).fetchall():
                if not _try_lock(conn, job, due_at):
                    continue  # still running somewhere
                try:
                    conn.execute(
                        "UPDATE schedule_runs SET outcome = 'failed', finished_at = now(), detail ="
                        " 'interrupted: the scheduler running it stopped' WHERE id = %s AND outcome = 'running'",
                        (row_id,),
                    )
                    closed += 1
                finally:
                    _unlock(conn, job, due_at)
        return closed

    def due(self, now: datetime) -> list[tuple[JobSpec, datetime]]:
        """Enabled jobs whose latest due time has not fired yet, earliest first."""
        with self._connect() as conn:
            last = dict(conn.execute("SELECT job, max(due_at) FROM schedule_runs GROUP BY job").fetchall())
        out = []
        for job in self.config.jobs:
            if not job.enabled:
                continue
            due_at = self.config.previous_due(job, now)
            if last.get(job.name) is None or last[job.name] < due_at:
                out.append((job, due_at))
        return sorted(out, key=lambda item: (item[1], item[0].name))

    def fire(self, job: JobSpec, due_at: datetime) -> Firing | None:
        """Run `job` for `due_at` unless another scheduler has or is; None when it was not ours to run."""
        with self._connect() as conn:
            if not _try_lock(conn, job.name, due_at):
                return None
            try:
                row = conn.execute(
                    "INSERT INTO schedule_runs (job, due_at, started_at) VALUES (%s, %s, %s)"
                    " ON CONFLICT (job, due_at) DO NOTHING RETURNING id",
                    (job.name, due_at, self._clock()),
                ).fetchone()
                if row is None:
                    return None
                firing = self._run(job, due_at)
                conn.execute(
                    "UPDATE schedule_runs SET finished_at = %s, outcome = %s, detail = %s WHERE id = %s",
                    (self._clock(), firing.outcome, firing.detail[:4000], row[0]),
                )
                return firing
            finally:
                _unlock(conn, job.name, due_at)

    def _run(self, job: JobSpec, due_at: datetime) -> Firing:
        runner = self._runners.get(job.kind)
        if runner is None:
            return Firing(job.name, due_at, "failed", f"no runner for job kind {job.kind!r}")
        try:
            detail = runner(job, due_at)
        except Exception as error:  # recorded, and the next due time fires as usual
            log.exception("scheduled job failed", extra={"job": job.name})
            return Firing(job.name, due_at, "failed", f"{type(error).__name__}: {error}")
        return Firing(job.name, due_at, "succeeded", detail)

    def tick(self, now: datetime | None = None) -> list[Firing]:
        """Fire every job that is due at `now`; returns what this scheduler fired."""
        fired = []
        for job, due_at in self.due(now or self._clock()):
            firing = self.fire(job, due_at)
            if firing is not None:
                fired.append(firing)
        return fired

    def seconds_until_next(self, now: datetime | None = None) -> float:
        now = now or self._clock()
        upcoming = [self.config.next_due(job, now) for job in self.config.jobs if job.enabled]
        return max(0.0, (min(upcoming) - now).total_seconds()) if upcoming else 60.0

    def run_until(self, stop: threading.Event, max_wait_s: float = 60.0) -> None:
        """Tick whenever something is due until `stop` is set."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # the database may be down for a while; what is due stays due
                log.exception("scheduler tick failed")
            stop.wait(min(self.seconds_until_next() + 0.05, max_wait_s))


def _lock_key(job: str, due_at: datetime) -> str:
    return f"vsentinel-schedule:{job}@{due_at.astimezone(UTC).isoformat()}"


def _try_lock(conn: psycopg.Connection, job: str, due_at: datetime) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (_lock_key(job, due_at),)).fetchone()
    return bool(row and row[0])


def _unlock(conn: psycopg.Connection, job: str, due_at: datetime) -> None:
    conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (_lock_key(job, due_at),))


def job_status(database_url: str, config: ScheduleConfig, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per job: its last firing (from schedule_runs) and its next due time (from its cron)."""
    now = now or datetime.now(UTC)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT DISTINCT ON (job) job, due_at, started_at, finished_at, outcome, detail FROM schedule_runs"
            " ORDER BY job, due_at DESC"
        ).fetchall()
    last = {row[0]: row[1:] for row in rows}
    out = []
    for job in config.jobs:
        due_at, started, finished, outcome, detail = last.get(job.name, (None,) * 5)
        out.append(
            {
                "job": job.name,
                "kind": job.kind,
                "cron": job.cron,
                "enabled": job.enabled,
                "note": job.note,
                "last_due_at": due_at,
                "last_started_at": started,
                "last_finished_at": finished,
                "last_outcome": outcome,
                "last_detail": detail,
                "next_due_at": config.next_due(job, now) if job.enabled else None,
            }
        )
    return out


class AlertsPort(Protocol):
    """What the jobs need from the alert side: the actors in production, in-process objects in tests."""

    def evaluate_run(self, run_id: int) -> dict[str, Any]: ...
    def evaluate_time_based(self) -> dict[str, Any]: ...
    def drain(self) -> dict[str, Any]: ...


class LocalAlerts:
    def __init__(self, database_url: str, channel_settings: Any = None) -> None:
        from actors.alerts import Drainer, Evaluator

        self._evaluator = Evaluator(database_url)
        self._drainer = Drainer(database_url, channel_settings)

    def evaluate_run(self, run_id: int) -> dict[str, Any]:
        return self._evaluator.evaluate_run(run_id)

    def evaluate_time_based(self) -> dict[str, Any]:
        return self._evaluator.evaluate_time_based()

    def drain(self) -> dict[str, Any]:
        return self._drainer.drain_once()


class RemoteAlerts:
    def __init__(self, database_url: str, channel_settings: Any = None) -> None:
        from actors.alerts import AlertEvaluator, Notifier

        self._evaluator = AlertEvaluator.remote(database_url)
        self._notifier = Notifier.remote(database_url, channel_settings)

    def evaluate_run(self, run_id: int) -> dict[str, Any]:
        return ray.get(self._evaluator.evaluate_run.remote(run_id))

    def evaluate_time_based(self) -> dict[str, Any]:
        return ray.get(self._evaluator.evaluate_time_based.remote())

    def drain(self) -> dict[str, Any]:
        return ray.get(self._notifier.drain_once.remote())


IngestFn = Callable[[JobSpec], int]  # runs one incremental ingestion, returns its run id


def ingest_with(database_url: str, source_url: str, app_token: str | None) -> IngestFn:
    def ingest(job: JobSpec) -> int:
        from sentinel.datasets import load_datasets

        datasets = list(job.options.get("datasets") or load_datasets())
        if job.options.get("engine", "ray") == "serial":
            from sentinel.ingest.run import RunOptions, run_serial
            from sentinel.ingest.socrata import SocrataSource

            run_id, _ = run_serial(database_url, SocrataSource(source_url, app_token), RunOptions(datasets))
            return run_id
        from cluster.ingest import run_ingestion

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
        from sentinel.settings import get_settings

        settings = get_settings()
        runners.update(model_runners(database_url))
        # The backup reads as the owner when it is known: the dump then needs no grants of the application role.
        backup_url = owner_database_url or database_url
        runners.update(backup_runners(backup_url, settings.resolved_model_dir, settings.data_dir))
    return runners


def model_runners(database_url: str) -> dict[str, JobRunner]:
    """Scoring and retraining jobs over the registry's active models (sentinel.risk, training.pipeline)."""
    from sentinel.risk.service import ScoreService, connect_to
    from sentinel.settings import get_settings

    settings = get_settings()

    def score_service() -> ScoreService | None:
        service = ScoreService(connect_to(database_url), model_dir=settings.resolved_model_dir)
        return service if service.loaded.model is not None else None

    def rescore_changed_job(job: JobSpec, due_at: datetime) -> str:
        service = score_service()
        if service is None:
            return "skipped: no active model"
        return f"{service.rescore_changed()} changed buildings rescored"

    def score_daily_job(job: JobSpec, due_at: datetime) -> str:
        service = score_service()
        if service is None:
            return "skipped: no active model"
        return f"{service.score_all()} buildings scored"

    def retrain_weekly_job(job: JobSpec, due_at: datetime) -> str:
        from training import pipeline
        from training.config import load_training_settings

        with psycopg.connect(database_url) as conn:
            report = pipeline.run(
                conn,
                load_training_settings(),
                settings.resolved_model_dir,
                settings.data_dir / "ray_results",
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
        from sentinel.backup.create import run_backup
        from sentinel.backup.settings import load_backup_settings
        from sentinel.backup.stores import open_store

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
