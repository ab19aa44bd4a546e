"""`vsentinel schedule status` reads the record and the schedule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from cluster.cli_schedule import schedule_app
from sentinel.scheduling import JobSpec, ScheduleConfig, ScheduleCore
from sentinel.settings import get_settings


@pytest.fixture
def env(db_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("VS_DATABASE_URL", db_url)
    monkeypatch.setenv("VS_REDIS_URL", redis_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_status_lists_every_job_with_its_last_outcome(env: None, db_url: str) -> None:
    job = JobSpec(name="time_alerts", cron="*/5 * * * *", kind="time_alerts")
    ScheduleCore(db_url, ScheduleConfig(jobs=(job,)), {"time_alerts": lambda j, d: "3 new alerts"}).tick(
        datetime.now(UTC)
    )

    result = CliRunner().invoke(schedule_app, ["status"], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert "time_alerts" in result.output and "succeeded" in result.output and "3 new alerts" in result.output
    assert "retrain_weekly" in result.output and "0 4 * * 0" in result.output
