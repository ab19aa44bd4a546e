"""The detached scheduler actor on the session's Ray: its ingestion job ingests a published change, evaluates
that run through the AlertEvaluator actor and sends through the Notifier actor."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest
import ray
from pydantic import SecretStr

from citysim.replay.server import serve_in_background
from cluster.ray_runtime import NAMESPACE
from cluster.scheduler import SCHEDULER_NAME, start_scheduler, stop_scheduler
from sentinel.channels import ChannelSettings, WebhookSettings, verify_signature
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from sentinel.scheduling import JobSpec, ScheduleConfig
from tests.alerts import flow
from tests.channels.receivers import LOCAL_RECEIVERS, HttpReceiver, wait_for

SECRET = "ray-secret"


@pytest.mark.integration
def test_the_detached_scheduler_ingests_evaluates_and_notifies_once(
    ray_cluster: object, db_url: str, receiver: HttpReceiver
) -> None:
    if not flow.HPD_SAMPLE.is_file():
        pytest.skip("real HPD sample not found")
    config = ScheduleConfig(
        jobs=(
            JobSpec(
                name="ingest",
                cron="* * * * *",
                kind="ingest",
                options={"engine": "serial", "datasets": ["hpd_violations"]},
            ),
        )
    )
    channels = ChannelSettings(
        enabled=frozenset({"webhook", "console"}),
        webhook=WebhookSettings(signing_secret=SecretStr(SECRET)),
        outbound=LOCAL_RECEIVERS,
    )
    with serve_in_background(sources=flow.hpd_sources()) as server, psycopg.connect(db_url, autocommit=True) as conn:
        run_serial(db_url, SocrataSource(server.url), RunOptions(datasets=["hpd_violations"], incremental=False))
        open_row = flow.an_open_violation(server.url)
        flow.watch(conn, open_row["bbl"], "owner@example.com", f"{receiver.url}/hooks")
        today = datetime.now(ZoneInfo("America/New_York")).date()
        server.apply_changes(flow.changes([flow.new_class_c(open_row, "99000002", today)]))

        handle = start_scheduler(db_url, server.url, config=config, channel_settings=channels, autostart=False)
        try:
            assert ray.get_actor(SCHEDULER_NAME, namespace=NAMESPACE) is not None
            (firing,) = ray.get(handle.tick.remote(), timeout=180)
            assert firing.outcome == "succeeded", firing.detail
            wait_for(lambda: len(receiver.requests) == 1, timeout_s=30)
            (request,) = receiver.requests
            verify_signature(SECRET, request.headers["x-sentinel-signature"], request.body)
            assert json.loads(request.body)["trigger_key"] == "violation:HPD:99000002:new"

            # The same due time never fires twice; a later one finds nothing new to send.
            ray.get(handle.tick.remote(), timeout=180)
            rows = conn.execute("SELECT count(*), count(DISTINCT due_at) FROM schedule_runs").fetchone()
            assert rows is not None and rows[0] == rows[1]
            assert len(receiver.requests) == 1
        finally:
            stop_scheduler()
