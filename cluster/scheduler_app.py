"""The scheduler as a Serve application, so that whatever keeps Serve running keeps the scheduler running too.

`serve deploy configs/serve.yaml` (VMs) and the KubeRay RayService (deploy/k8s) deploy two applications: the API
(`deployments.app:build_app`) and this one. Its single replica makes sure the cluster's detached scheduler actor
(cluster/scheduler.py: one per cluster, state in PostgreSQL) exists, and fails its health check when the actor
does not answer, so Serve replaces the replica, which finds or recreates the actor. It serves no HTTP
(`route_prefix: null`): the job status is read with `vsentinel schedule status`.

Settings come from the replica's environment like the API's (`VS_DATABASE_URL`, `VS_SOCRATA_URL`, channel
variables); the schema must already be migrated (`vsentinel db upgrade` with the owner's login, a deploy step).
"""

from __future__ import annotations

from typing import Any

import ray
from ray import serve
from ray.serve import Application

from cluster.scheduler import SCHEDULER_NAME, start_scheduler
from sentinel.scheduling import load_schedules
from sentinel.settings import get_settings

HEALTH_TIMEOUT_S = 60.0


@serve.deployment(name="SchedulerKeeper", num_replicas=1, ray_actor_options={"num_cpus": 0}, health_check_period_s=30)
class SchedulerKeeper:
    def __init__(self, args: dict[str, Any]) -> None:
        from sentinel.channels.settings import channel_settings_from_env

        settings = get_settings()
        if settings.database_url is None:
            raise RuntimeError(f"{SCHEDULER_NAME} needs VS_DATABASE_URL in the replicas' environment")
        self._start = lambda: start_scheduler(
            str(settings.database_url),
            str(args.get("socrata_url") or settings.socrata_url),
            app_token=settings.socrata_app_token,
            config=load_schedules(args.get("schedules")),  # a path; default configs/schedules.yaml
            channel_settings=channel_settings_from_env(),
        )
        self._scheduler = self._start()

    def check_health(self) -> None:
        try:
            ray.get(self._scheduler.status.remote(), timeout=HEALTH_TIMEOUT_S)
        except ray.exceptions.RayActorError:
            self._scheduler = self._start()  # killed outright (not restarted by Ray): the next check sees the new one
            raise

    def status(self) -> list[dict[str, Any]]:
        return ray.get(self._scheduler.status.remote(), timeout=HEALTH_TIMEOUT_S)


def build_app(args: dict[str, Any] | None = None) -> Application:
    return SchedulerKeeper.bind(dict(args or {}))
