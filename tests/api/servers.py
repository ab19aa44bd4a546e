"""Running an ASGI app under a real uvicorn on an ephemeral port, in a thread, for the length of a block."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from tests.conftest import free_port


@contextlib.contextmanager
def running(app: Any, timeout: float = 20.0, host: str = "127.0.0.1") -> Iterator[str]:
    port = free_port()
    # As `vsentinel serve --engine uvicorn` runs it: the app, not uvicorn, decides whose X-Forwarded-For counts.
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="off", access_log=False, proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


@contextlib.contextmanager
def running_on_serve(database_url: str, redis_url: str, jwt_secret: str, **args: Any) -> Iterator[str]:
    """The gateway app on Ray Serve (the session's Ray) with the counting model: its base URL; shut down after."""
    from ray import serve

    from deployments.app import APP_NAME, build_app

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    config = {
        "database_url": database_url,
        "redis_url": redis_url,
        "jwt_secret": jwt_secret,
        "model_loader": "tests.api.fakes:load_counting_model",
        **args,
    }
    serve.run(build_app(config), name=APP_NAME, route_prefix="/")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
