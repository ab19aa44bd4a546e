"""What the `vsentinel` commands share: the settings, the local stack, the schema, the API port, and the one-line
error that ends a command. Every cluster/cli_*.py imports this module, never cluster/cli.py (which only assembles
the app from the commands)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.text import Text

from cluster.console import console, err_console
from sentinel import logs
from sentinel.db import migrate
from sentinel.db.roles import RoleError
from sentinel.embedded import Services, ServicesNotConfiguredError, local_services
from sentinel.ports import PortInUseError, ensure_free
from sentinel.settings import Settings, SettingsError, get_settings

JSON_HELP = "Print the result as one JSON document on stdout (nothing else goes there)."


def fail(message: str, code: int = 1) -> typer.Exit:
    # The message is text, never markup: error text quotes user input and exceptions (`[x]`, `[/]`).
    err_console.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)  # one line, for logs
    return typer.Exit(code)


def port_or_exit(host: str, port: int) -> None:
    """Checks the API port before anything starts: Serve's proxy would fail inside Ray, cause only in its logs."""
    try:
        ensure_free(host, port)
    except PortInUseError as error:
        raise fail(f"{error}; stop it or choose another port with --port or VS_SERVE_HTTP_PORT") from None


def settings_or_exit() -> Settings:
    try:
        settings = get_settings()
    except SettingsError as error:
        raise fail(str(error), code=2) from None
    log_file = settings.log_file if settings.log_to == "file" else None
    logs.configure_cli(settings.log_level, settings.log_format, log_file)
    return settings


@contextlib.contextmanager
def services_or_exit(settings: Settings) -> Iterator[Services]:
    try:
        with local_services(settings) as services:
            yield services
    except typer.Exit:  # a command's own failure inside the block, already reported
        raise
    except ServicesNotConfiguredError as error:
        raise fail(str(error), code=2) from None
    except (OSError, RuntimeError) as error:
        raise fail(f"could not start the local services: {error}") from None


def upgrade_or_exit(services: Services) -> None:
    try:
        applied, app_role = migrate.upgrade_roles(services.migration_url, services.database_url)
    except RoleError as error:
        raise fail(f"database roles: {error}") from None
    except migrate.EditedMigrationError as error:
        raise fail(str(error)) from None
    except Exception as error:
        raise fail(f"migration failed, nothing after the last good one was applied: {error}") from None
    if app_role is None:
        err_console.print(
            "[yellow]warning:[/] the application logs in as the schema owner, so nothing stops it from altering the"
            " audit log; set VS_DATABASE_OWNER_URL to the owner and VS_DATABASE_URL to an application role"
            " (README: Database roles and the audit log)"
        )
    if applied:
        for migration in applied:
            console.print(f"applied [bold]{migration.version:04d}[/] {migration.name}")
    else:
        console.print("schema is up to date")
