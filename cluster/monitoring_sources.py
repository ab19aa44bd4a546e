"""What the monitoring reads, from the configuration: the configured datasets (configs/datasets.yaml) and the
scheduler's jobs with the interval between their due times (configs/schedules.yaml), for `vsentinel exporter`
and `vsentinel status`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sentinel.datasets import load_datasets
from sentinel.embedded import Services
from sentinel.monitoring.collector import Sources
from sentinel.scheduling import ScheduleConfig, load_schedules


def job_intervals(config: ScheduleConfig, now: datetime | None = None) -> dict[str, float]:
    """Seconds between consecutive due times of each enabled job (a disabled job has none: it is never late)."""
    now = now or datetime.now(UTC)
    return {
        job.name: (config.next_due(job, now) - config.previous_due(job, now)).total_seconds()
        for job in config.jobs
        if job.enabled
    }


def monitoring_sources(services: Services, schedules: Path | None = None) -> Sources:
    config = load_schedules(schedules)
    return Sources(
        database_url=services.database_url,
        redis_url=services.redis_url,
        datasets=tuple(load_datasets()),
        jobs=tuple(job.name for job in config.jobs),
        job_intervals=job_intervals(config),
    )
