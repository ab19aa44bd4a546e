"""`vsentinel serve`: run the HTTP API locally, on Ray Serve (default) or under plain uvicorn.

Unset `VS_DATABASE_URL` / `VS_REDIS_URL` start the embedded servers, as everywhere else; the schema is migrated
first. Without `VS_JWT_SECRET` a random secret is made for this run (tokens then die with the process), with a
warning.
"""

from __future__ import annotations

import logging
import secrets
import signal
import threading
from enum import StrEnum
from typing import Annotated

import typer

from cluster.cli_common import fail, port_or_exit, services_or_exit, settings_or_exit, upgrade_or_exit
from cluster.console import err_console as console
from sentinel.embedded import Services
from sentinel.settings import Settings

log = logging.getLogger(__name__)


class Engine(StrEnum):
    RAY = "ray"
    UVICORN = "uvicorn"


def serve_command(
    port: Annotated[int | None, typer.Option(help="HTTP port (default VS_SERVE_HTTP_PORT).")] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    engine: Annotated[Engine, typer.Option(help="ray: the Serve application; uvicorn: one process, no Ray.")] = (
        Engine.RAY
    ),
    model_loader: Annotated[
        str, typer.Option(help="module:function that loads the active risk model.")
    ] = "sentinel.risk.scoring:load_active_models",
) -> None:
    """Serve the ViolationSentinel HTTP API (docs at /docs)."""
    settings = settings_or_exit()
    port = settings.serve_http_port if port is None else port
    port_or_exit(host, port)
    with services_or_exit(settings) as services:
        upgrade_or_exit(services)
        start_api(settings, services, host=host, port=port, engine=engine, model_loader=model_loader)


def _jwt_secret(settings: Settings) -> str:
    if settings.jwt_secret:
        return settings.jwt_secret
    console.print("[yellow]warning:[/] VS_JWT_SECRET is unset; using a random secret for this run")
    return secrets.token_urlsafe(48)


def start_api(
    settings: Settings,
    services: Services,
    *,
    host: str,
    port: int,
    engine: Engine = Engine.RAY,
    model_loader: str = "sentinel.risk.scoring:load_active_models",
) -> None:
    """Runs the API over already-running services until SIGINT/SIGTERM (the CLI's serve and demo)."""
    jwt_secret = _jwt_secret(settings)
    if engine is Engine.UVICORN:
        _run_uvicorn(services.database_url, services.redis_url, jwt_secret, model_loader, host, port)
        return
    args = {
        "database_url": services.database_url,
        "redis_url": services.redis_url,
        "jwt_secret": jwt_secret,
        "model_loader": model_loader,
    }
    _run_serve(settings, args, host, port)


def _run_uvicorn(database_url: str, redis_url: str, jwt_secret: str, loader: str, host: str, port: int) -> None:
    # The API's application (FastAPI and its dependencies) loads only when it is served.
    import uvicorn

    from deployments.api.app import create_app
    from deployments.api.local import local_deps
    from deployments.config import import_loader

    deps = local_deps(
        database_url=database_url, redis_url=redis_url, jwt_secret=jwt_secret, model_loader=import_loader(loader)
    )
    console.print(f"web app at http://{host}:{port}/  API (uvicorn) docs: http://{host}:{port}/docs")
    try:
        # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from any loopback peer; the app
        # decides which proxies to believe (VS_API_TRUSTED_PROXIES, deployments/api/security.py).
        uvicorn.run(create_app(deps), host=host, port=port, log_level="warning", access_log=False, proxy_headers=False)
    finally:
        deps.close()


def _run_serve(settings: object, args: dict[str, str], host: str, port: int) -> None:
    # Ray Serve and the API's application load only on this engine, not for `vsentinel --help` or uvicorn.
    from ray import serve

    from cluster import ray_runtime
    from deployments.app import APP_NAME, build_app

    # Serve gives its driver-side logger a console handler of its own ("INFO ... -- Deploying app"): into the CLI's
    # log with everything else instead, its warnings still reaching the console.
    serve_log = logging.getLogger("ray.serve")
    serve_log.handlers.clear()
    serve_log.propagate = True
    info = ray_runtime.connect_shared(settings, long_running=True)  # type: ignore[arg-type]
    if info.owner_pid is not None and APP_NAME in serve.status().applications:
        # Deploying would replace the other process's API in the Ray both use, and stopping would take it away.
        raise fail(f"the local Ray of pid {info.owner_pid} already serves the API; use it, or `vsentinel stop` first")
    serve.start(http_options={"host": host, "port": port})
    serve.run(build_app(args), name=APP_NAME, route_prefix="/", blocking=False)
    console.print(f"web app at http://{host}:{port}/  API (Ray Serve) docs: http://{host}:{port}/docs")
    if info.dashboard_url:
        console.print(f"Ray dashboard at {info.dashboard_url}")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        serve.delete(APP_NAME)
        if info.owner_pid is None:  # Serve in a joined Ray is the owner's to stop
            serve.shutdown()
        ray_runtime.shutdown()
