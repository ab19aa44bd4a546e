"""`vsentinel mailbox`: the demo's local mailbox (the emails the alert rules sent, as .eml files)."""

from __future__ import annotations

import typer

from cluster.cli_common import fail, settings_or_exit
from cluster.console import console
from cluster.console import table as console_table


def mailbox_command(
    show: int | None = typer.Argument(None, help="Print message N (as numbered in the list)."),
) -> None:
    """List the messages the demo's mailbox received (VS_DATA_DIR/mailbox), or print one."""
    from sentinel.mailbox import messages  # its SMTP server's imports: only this command pays them

    directory = settings_or_exit().data_dir / "mailbox"
    received = list(messages(directory))
    if show is not None:
        if not 1 <= show <= len(received):
            raise fail(f"no message {show}: the mailbox has {len(received)}", code=2)
        message = received[show - 1]
        console.print(f"From: {message.sender}\nTo: {message.to}\nSubject: {message.subject}\nFile: {message.path}\n")
        console.print(message.body(), markup=False, highlight=False)
        return
    table = console_table("#", "received (UTC)", "to", "subject", title=f"{directory} ({len(received)} messages)")
    for n, message in enumerate(received, 1):
        table.add_row(str(n), message.received.strftime("%Y-%m-%d %H:%M:%S"), message.to, message.subject)
    console.print(table)
