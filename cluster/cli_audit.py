"""`vsentinel audit verify`: checks the audit log's hash chain and names the first broken link."""

from __future__ import annotations

import psycopg
import typer

from cluster.cli_common import fail, services_or_exit, settings_or_exit
from cluster.console import console
from sentinel.auth.audit_chain import parse_anchor, verify

audit_app = typer.Typer(help="The append-only audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    anchor: str | None = typer.Option(
        None, "--anchor", help="A head printed by an earlier verify (SEQ:HASH) that must still be in the chain."
    ),
) -> None:
    """Recompute every link of the audit log's hash chain; exit 1 at the first edited, deleted or inserted row."""
    try:
        expected = parse_anchor(anchor) if anchor else None
    except ValueError as error:
        raise fail(str(error), code=2) from None
    settings = settings_or_exit()
    with services_or_exit(settings) as services, psycopg.connect(services.database_url) as conn:
        try:
            report = verify(conn, expected)
        except psycopg.errors.UndefinedTable:
            raise fail("the audit log has no hash chain yet: run `vsentinel db upgrade` first") from None
    if report.first_break is not None:
        raise fail(f"audit log tampered with at {report.first_break} ({report.links} links intact before it)")
    if report.anchor_found is False:
        raise fail(f"the anchor {anchor} is not in the chain: it was rewritten (head now {report.head})")
    console.print(f"audit log intact: {report.links} rows chained; head {report.head}")
