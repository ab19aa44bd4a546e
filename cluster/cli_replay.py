"""`vsentinel replay`: serve NYC datasets from local files over a Socrata-compatible API, and change them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import orjson
import requests
import typer

from citysim.replay.changes import load_changes
from citysim.replay.faults import FaultConfig
from citysim.replay.server import ReplayServer
from citysim.replay.store import open_store

ADMIN_TOKEN_ENV = "VS_REPLAY_ADMIN_TOKEN"  # noqa: S105 - the name of an env var, not a secret
APP_TOKEN_ENV = "VS_REPLAY_APP_TOKEN"  # noqa: S105

replay_app = typer.Typer(
    help="Local Socrata (SODA 2.1) replay server for the NYC datasets.",
    pretty_exceptions_enable=False,
)


@replay_app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    data: Annotated[Path | None, typer.Option(help="Directory of <dataset-id>.json / .csv files.")] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 = any free port).")] = 8088,
    faults: Annotated[
        str | None,
        typer.Option(
            help="Injected faults, e.g. 429=0.1,503=0.05,202=0.02,latency_ms=50,seed=7 (path=/api/views/: only there)."
        ),
    ] = None,
    app_token: Annotated[str | None, typer.Option(envvar=APP_TOKEN_ENV, help="Require this X-App-Token.")] = None,
    admin_token: Annotated[
        str | None,
        typer.Option(envvar=ADMIN_TOKEN_ENV, help="Bearer token for /admin (changes, faults); unset = disabled."),
    ] = None,
    cache: Annotated[bool, typer.Option(help="Reuse/keep the indexed store in DIR/.replay-cache.sqlite.")] = True,
) -> None:
    """Serve the datasets in --data until interrupted."""
    if ctx.invoked_subcommand is not None:
        return
    if data is None or not data.is_dir():
        raise typer.BadParameter("--data must be a directory of dataset files", param_hint="--data")
    try:
        fault_config = FaultConfig.parse(faults)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--faults") from exc
    logging.basicConfig(level=logging.INFO)
    store = open_store(data, cache=cache)
    for error in store.load_errors:
        typer.echo(f"error: {error}", err=True)
    server = ReplayServer(
        store, host=host, port=port, app_token=app_token, admin_token=admin_token, faults=fault_config
    )
    counts = ", ".join(sorted(store.tables))
    typer.echo(f"replay server on {server.url} serving {counts}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@replay_app.command("apply-changes")
def apply_changes_command(
    url: Annotated[str, typer.Option(help="Base URL of a running replay server, e.g. http://127.0.0.1:8088.")],
    changes: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="JSON changes file (a day).")],
    admin_token: Annotated[str, typer.Option(envvar=ADMIN_TOKEN_ENV, help="The server's admin bearer token.")],
) -> None:
    """Apply a day of changes (new rows, updates by natural key, deletions, full replaces) to a server."""
    body = load_changes(changes)  # validate locally for a clear error before sending
    response = requests.post(
        url.rstrip("/") + "/admin/changes",
        data=orjson.dumps(body),
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"},
        timeout=600,
    )
    if response.status_code != 200:
        typer.echo(f"error: {response.status_code} {response.text}", err=True)
        raise typer.Exit(1)
    for dataset_id, result in response.json()["applied"].items():
        typer.echo(
            f"{dataset_id}: +{result['inserted']} ~{result['updated']} -{result['deleted']}"
            f" replaced={result['replaced']} :updated_at={result['updated_at']}"
        )
