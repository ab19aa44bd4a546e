"""The scheduler's daily backup: each firing writes a backup, applies retention and is recorded in
schedule_runs; a backup that fails is recorded as failed. The scheduler's core without Ray, its clock injected."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from cluster.scheduler import backup_runners
from sentinel.backup.retention import list_backups
from sentinel.backup.settings import BackupSettings
from sentinel.backup.stores import LocalStore
from sentinel.scheduling import JobSpec, ScheduleConfig, ScheduleCore, load_schedules
from tests.conftest import drop_database, migrated_database

pytestmark = pytest.mark.integration

JOB = JobSpec(name="backup_daily", cron="15 2 * * *", kind="backup")
CONFIG = ScheduleConfig(timezone="America/New_York", jobs=(JOB,))
FIRST = datetime(2026, 11, 25, 7, 20, tzinfo=UTC)  # 02:20 in New York, five minutes after the due time


@pytest.fixture
def database(pg_admin_url: str) -> Iterator[tuple[str, str]]:
    name, owner_url, app_url = migrated_database(pg_admin_url, prefix="vs_bk_sched")
    yield owner_url, app_url
    drop_database(pg_admin_url, name)


def runs(app_url: str) -> list[tuple[str, datetime, str, str]]:
    with psycopg.connect(app_url) as conn:
        return conn.execute("SELECT job, due_at, outcome, detail FROM schedule_runs ORDER BY due_at").fetchall()


def test_the_shipped_schedule_has_a_daily_backup() -> None:
    jobs = [job for job in load_schedules().jobs if job.kind == "backup"]
    assert [(job.cron, job.enabled) for job in jobs] == [("15 2 * * *", True)]


def test_each_daily_firing_backs_up_prunes_and_is_recorded(database, tmp_path: Path) -> None:
    owner_url, app_url = database
    now = [FIRST]
    settings = BackupSettings(destination=str(tmp_path / "backups"), keep_last=2, max_age_days=7)
    runners = backup_runners(owner_url, tmp_path / "models", tmp_path, settings, clock=lambda: now[0])
    core = ScheduleCore(app_url, CONFIG, runners, clock=lambda: now[0])
    fired = []
    for day in range(3):
        now[0] = FIRST + timedelta(days=day)
        fired += core.tick()
        assert core.tick() == []  # the same due time never fires twice
    assert [f.outcome for f in fired] == ["succeeded"] * 3
    kept = [b.id for b in list_backups(LocalStore(tmp_path / "backups"))]
    assert kept == ["vs-20261127T072000Z", "vs-20261126T072000Z"]
    recorded = runs(app_url)
    assert [(job, outcome) for job, _, outcome, _ in recorded] == [("backup_daily", "succeeded")] * 3
    assert recorded[0][1] == datetime(2026, 11, 25, 7, 15, tzinfo=UTC)
    assert recorded[0][3].startswith("backup vs-20261125T072000Z to ") and recorded[0][3].endswith("pruned: none")
    assert recorded[2][3].endswith("pruned: vs-20261125T072000Z")


def test_a_failed_backup_is_recorded_as_failed_and_publishes_nothing(database, pg_admin_url, tmp_path) -> None:
    _, app_url = database
    settings = BackupSettings(destination=str(tmp_path / "backups"))
    gone = pg_admin_url.rsplit("/", 1)[0] + "/vs_no_such_database"
    core = ScheduleCore(app_url, CONFIG, backup_runners(gone, tmp_path / "m", tmp_path, settings), clock=lambda: FIRST)
    [firing] = core.tick()
    assert firing.outcome == "failed" and "vs_no_such_database" in firing.detail
    assert runs(app_url)[0][2] == "failed"
    assert list_backups(LocalStore(tmp_path / "backups")) == []
