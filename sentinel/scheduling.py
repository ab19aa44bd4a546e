"""The schedule, without Ray: which jobs of configs/schedules.yaml are due, firing each, and the memory kept in
PostgreSQL (schedule_runs), where a restarted actor, a second scheduler and `vsentinel schedule status` all read
it.

One firing per (job, due time), however many schedulers run: the firing holds a PostgreSQL advisory lock on
(job, due time) while it runs and claims the due time with `INSERT .. ON CONFLICT (job, due_at) DO NOTHING`;
whoever does not get both skips it. Only a job's latest due time is ever fired, so a job missed while no
scheduler was up runs once at start, not once per missed slot. A firing left 'running' by a dead process (its
advisory lock is free again) is closed as failed when a scheduler starts.

`ScheduleCore` is the whole logic without Ray (tests run two of them in threads); cluster.scheduler.Scheduler is
the actor that runs it, with the job runners.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import psycopg
import yaml
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sentinel.settings import CONFIG_DIR

log = logging.getLogger(__name__)

DEFAULT_SCHEDULES = CONFIG_DIR / "schedules.yaml"
JobKind = Literal[
    "ingest",
    "time_alerts",
    "notify",
    "rescore_changed",
    "score_daily",
    "retrain_weekly",
    "backup",
    "prune_source_pages",
]
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
