"""`vsentinel`: the command line of ViolationSentinel, assembled from its commands (one cluster/cli_*.py per
command or group; what they share is in cluster/cli_common.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import typer

from cluster.cli_audit import audit_app
from cluster.cli_backup import backup_app, restore_command
from cluster.cli_db import db_app
from cluster.cli_demo import demo_command
from cluster.cli_doctor import doctor_command
from cluster.cli_exporter import exporter_command
from cluster.cli_ingest import ingest_command, quality_command
from cluster.cli_mailbox import mailbox_command
from cluster.cli_model import model_app, score_command, train_command
from cluster.cli_org import org_app
from cluster.cli_replay import replay_app
from cluster.cli_schedule import schedule_app
from cluster.cli_serve import serve_command
from cluster.cli_status import status_command
from cluster.cli_stop import stop_command
from cluster.cli_synth import synth_command
from cluster.console import err_console
from cluster.termination import Terminated, stop_on_signals

app = typer.Typer(
    name="vsentinel",
    help="ViolationSentinel: NYC building violations, risk scores and alerts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# In the order `vsentinel --help` lists them.
GROUPS: dict[str, typer.Typer] = {
    "db": db_app,
    "replay": replay_app,
    "schedule": schedule_app,
    "model": model_app,
    "org": org_app,
    "audit": audit_app,
    "backup": backup_app,
}
COMMANDS: dict[str, Callable[..., None]] = {
    "train": train_command,
    "score": score_command,
    "serve": serve_command,
    "synth": synth_command,
    "mailbox": mailbox_command,
    "restore": restore_command,
    "status": status_command,
    "exporter": exporter_command,
    "demo": demo_command,
    "doctor": doctor_command,
    "stop": stop_command,
    "ingest": ingest_command,
    "quality": quality_command,
}
for name, group in GROUPS.items():
    app.add_typer(group, name=name)
for name, command in COMMANDS.items():
    app.command(name)(command)


@app.callback()
def _options(
    log_json: bool = typer.Option(
        False, "--log-json", help="Log to stderr as JSON lines (default: VS_DATA_DIR/logs/vsentinel.log)."
    ),
) -> None:
    if log_json:  # read by settings_or_exit, and inherited by the processes this one starts
        os.environ["VS_LOG_TO"] = "stderr"
        os.environ["VS_LOG_FORMAT"] = "json"


def main() -> None:
    stop_on_signals()
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Terminated:
        err_console.print("terminated")
        raise


if __name__ == "__main__":
    main()
