"""`vsentinel org create`: a new organization and its first admin, the one step the API cannot authorize.

Everything after it (users, keys, portfolios, rules) goes through the API as that admin.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
import typer

from cluster.cli_common import fail, services_or_exit, settings_or_exit
from cluster.console import console
from sentinel.auth.organizations import create_organization

org_app = typer.Typer(help="Organizations.", no_args_is_help=True)


@org_app.command("create")
def org_create(
    name: str = typer.Argument(..., help="The organization's name."),
    admin_email: str = typer.Option(..., "--admin-email", help="Login of its first admin."),
    admin_password: str = typer.Option(
        ...,
        "--admin-password",
        envvar="VS_ADMIN_PASSWORD",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help="The admin's password (prompted, or from VS_ADMIN_PASSWORD; never put it on the command line).",
    ),
    timezone: str = typer.Option("America/New_York", help="IANA time zone for quiet hours and digests."),
) -> None:
    """Create an organization with its first admin (password hashed with argon2, recorded in the audit log)."""
    if "@" not in admin_email or admin_email.strip() != admin_email:
        raise fail(f"--admin-email {admin_email!r} is not an email address", code=2)
    from sentinel.auth.strength import WeakPasswordError, check_password  # its word lists: only when asked

    try:
        check_password(admin_password, user_inputs=[admin_email, name])
    except WeakPasswordError as weak:
        raise fail(f"{weak.message}. {' '.join(weak.suggestions)}", code=2) from None
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail(f"--timezone {timezone!r} is not an IANA time zone (e.g. America/New_York)", code=2) from None
    settings = settings_or_exit()
    with services_or_exit(settings) as services, psycopg.connect(services.database_url, autocommit=True) as conn:
        try:
            org_id, user_id = create_organization(
                conn, name=name, admin_email=admin_email, admin_password=admin_password, timezone=timezone
            )
        except psycopg.errors.UniqueViolation:
            raise fail(f"an organization named {name!r} already exists") from None
        except psycopg.errors.UndefinedTable:
            raise fail("the database has no schema yet: run `vsentinel db upgrade` first") from None
    console.print(f"organization [bold]{org_id}[/] {name!r} created; admin user {user_id} <{admin_email}>")
