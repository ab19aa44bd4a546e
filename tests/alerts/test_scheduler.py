"""The scheduler's core against real PostgreSQL, without Ray: one firing per (job, due time), whatever runs."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg

from sentinel.scheduling import JobSpec, ScheduleConfig, ScheduleCore, job_status, load_schedules

NOW = datetime(2026, 11, 25, 15, 7, 30, tzinfo=UTC)
CONFIG = ScheduleConfig(
    timezone="America/New_York",
    jobs=(
        JobSpec(name="every_five", cron="*/5 * * * *", kind="time_alerts"),
        JobSpec(name="hourly", cron="0 * * * *", kind="notify"),
        JobSpec(name="off", cron="* * * * *", kind="score_daily", enabled=False, note="not built"),
    ),
)


class Recorder:
    def __init__(self) -> None:
        self.calls: Counter[tuple[str, datetime]] = Counter()
        self.lock = threading.Lock()

    def __call__(self, job: JobSpec, due_at: datetime) -> str:
        with self.lock:
            self.calls[(job.name, due_at)] += 1
        return "ok"


def _core(db_url: str, recorder: Recorder, clock_at: datetime = NOW) -> ScheduleCore:
    runners = {"time_alerts": recorder, "notify": recorder, "score_daily": recorder}
    return ScheduleCore(db_url, CONFIG, runners, clock=lambda: clock_at)


def test_two_schedulers_started_at_once_fire_each_job_once(db_url: str, conn: psycopg.Connection) -> None:
    recorder = Recorder()
    cores = [_core(db_url, recorder) for _ in range(2)]
    start = threading.Barrier(2)
    fired: list[int] = []

    def run(core: ScheduleCore) -> None:
        start.wait()
        fired.append(len(core.tick(NOW)))

    threads = [threading.Thread(target=run, args=(core,)) for core in cores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(fired) == 2
    assert recorder.calls == Counter(
        {
            ("every_five", datetime(2026, 11, 25, 15, 5, tzinfo=UTC)): 1,
            ("hourly", datetime(2026, 11, 25, 15, 0, tzinfo=UTC)): 1,
        }
    )
    rows = conn.execute("SELECT job, outcome, detail FROM schedule_runs ORDER BY job").fetchall()
    assert rows == [("every_five", "succeeded", "ok"), ("hourly", "succeeded", "ok")]


def test_a_job_missed_while_down_runs_once_at_start_then_on_its_schedule(db_url: str) -> None:
    recorder = Recorder()
    _core(db_url, recorder).tick(NOW - timedelta(hours=5))  # last seen five hours ago
    recorder.calls.clear()

    core = _core(db_url, recorder)
    assert len(core.tick(NOW)) == 2  # sixty missed slots of every_five: one firing
    assert core.tick(NOW + timedelta(minutes=1)) == []
    (firing,) = core.tick(NOW + timedelta(minutes=3))
    assert (firing.job, firing.due_at) == ("every_five", datetime(2026, 11, 25, 15, 10, tzinfo=UTC))
    assert sum(recorder.calls.values()) == 3


def test_a_failing_job_is_recorded_and_fires_again_at_its_next_due_time(db_url: str, conn: psycopg.Connection) -> None:
    def broken(job: JobSpec, due_at: datetime) -> str:
        raise RuntimeError("source unavailable")

    core = ScheduleCore(db_url, CONFIG, {"time_alerts": broken, "notify": Recorder()}, clock=lambda: NOW)
    core.tick(NOW)
    row = conn.execute("SELECT outcome, detail, finished_at FROM schedule_runs WHERE job = 'every_five'").fetchone()
    assert row == ("failed", "RuntimeError: source unavailable", NOW)
    assert [f.outcome for f in core.tick(NOW + timedelta(minutes=5))] == ["failed"]


def test_a_firing_left_running_by_a_dead_scheduler_is_closed_at_start(db_url: str, conn: psycopg.Connection) -> None:
    conn.execute("INSERT INTO schedule_runs (job, due_at) VALUES ('every_five', %s)", (NOW,))
    assert _core(db_url, Recorder()).recover() == 1
    row = conn.execute("SELECT outcome, detail FROM schedule_runs").fetchone()
    assert row is not None and row[0] == "failed" and row[1].startswith("interrupted")


def test_status_shows_last_and_next_run_and_disabled_jobs(db_url: str) -> None:
    _core(db_url, Recorder()).tick(NOW)
    status = {s["job"]: s for s in job_status(db_url, CONFIG, NOW)}
    assert status["every_five"]["last_outcome"] == "succeeded"
    assert status["every_five"]["next_due_at"] == datetime(2026, 11, 25, 15, 10, tzinfo=UTC)
    assert (status["off"]["enabled"], status["off"]["next_due_at"], status["off"]["note"]) == (False, None, "not built")


def test_the_shipped_schedule_loads_with_its_defaults() -> None:
    jobs = {job.name: job for job in load_schedules().jobs}
    assert (jobs["ingest"].cron, jobs["time_alerts"].cron) == ("*/10 * * * *", "*/5 * * * *")
    assert all(job.enabled for job in jobs.values())
    assert (jobs["score_daily"].cron, jobs["retrain_weekly"].cron) == ("30 3 * * *", "0 4 * * 0")


def test_every_shipped_job_has_a_runner_and_scoring_waits_for_an_active_model(db_url: str) -> None:
    from cluster.scheduler import LocalAlerts, default_runners

    runners = default_runners(LocalAlerts(db_url), ingest=lambda job: 0, database_url=db_url)
    shipped = {job.kind for job in load_schedules().jobs}
    assert shipped <= set(runners)
    score = JobSpec(name="score_daily", cron="30 3 * * *", kind="score_daily")
    rescore = JobSpec(name="rescore_changed", cron="*/10 * * * *", kind="rescore_changed")
    now = datetime.now(UTC)
    assert runners["score_daily"](score, now) == "skipped: no active model"
    assert runners["rescore_changed"](rescore, now) == "skipped: no active model"
