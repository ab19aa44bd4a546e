"""`vsentinel db upgrade|status`: the PostgreSQL schema."""

from __future__ import annotations

import typer

from cluster.cli_common import fail, services_or_exit, settings_or_exit, upgrade_or_exit
from cluster.console import console
from sentinel.db import migrate

db_app = typer.Typer(help="The PostgreSQL schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    settings = settings_or_exit()
    with services_or_exit(settings) as services:
        upgrade_or_exit(services)


@db_app.command("status")
def db_status() -> None:
    """Show the schema version and pending migrations."""
    settings = settings_or_exit()
    with services_or_exit(settings) as services:
        try:
            state = migrate.status(services.migration_url)
        except Exception as error:
            raise fail(f"cannot read the schema: {error}") from None
    console.print(f"schema version: {state.current if state.current is not None else 'none'} of {state.latest}")
    for migration in state.pending:
        console.print(f"pending: {migration.version:04d} {migration.name}")
    for migration in state.edited:
        console.print(f"edited since applied: {migration.path}")
    if not state.up_to_date:
        raise typer.Exit(1)
