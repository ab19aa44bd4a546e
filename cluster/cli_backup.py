"""`vsentinel backup [list|prune]` and `vsentinel restore`: thin shells over sentinel/backup."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from cluster.cli_common import fail, services_or_exit, settings_or_exit
from cluster.console import console, emit_json
from sentinel.backup.create import BackupError, run_backup
from sentinel.backup.restore import RestoreError, run_restore
from sentinel.backup.retention import Policy, list_backups
from sentinel.backup.retention import prune as prune_backups
from sentinel.backup.settings import BackupSettings, load_backup_settings
from sentinel.backup.stores import StoreError, open_store
from sentinel.backup.tools import ToolError
from sentinel.doctor import check_audit_log, check_postgres

backup_app = typer.Typer(
    help="Backups of the database and the model artifacts: make one (no subcommand), list them, prune them.",
    invoke_without_command=True,
)

DestinationOption = Annotated[
    str | None, typer.Option("--to", help="A directory or s3://bucket/prefix (default VS_BACKUP_DESTINATION).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _backup_settings() -> BackupSettings:
    try:
        return load_backup_settings()
    except ValidationError as error:
        problems = [f"VS_BACKUP_{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors()]
        raise fail("invalid backup settings: " + "; ".join(problems), code=2) from None


def _store(destination: str | None, settings: Any, backup_settings: BackupSettings) -> Any:
    try:
        return open_store(destination or backup_settings.destination_for(settings.data_dir), backup_settings)
    except StoreError as error:
        raise fail(str(error), code=2) from None


@backup_app.callback()
def backup(
    ctx: typer.Context,
    to: DestinationOption = None,
    prune: Annotated[bool, typer.Option("--prune/--no-prune", help="Apply retention after the backup.")] = True,
    as_json: JsonOption = False,
) -> None:
    """Back up the database (one consistent pg_dump snapshot) and the model artifacts, with a manifest of
    checksums; then delete the backups retention expires (VS_BACKUP_KEEP_LAST, VS_BACKUP_MAX_AGE_DAYS)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = settings_or_exit()
    backup_settings = _backup_settings()
    store = _store(to, settings, backup_settings)
    with services_or_exit(settings) as services:
        try:
            result = run_backup(
                services.migration_url, settings.resolved_model_dir, store, backup_settings, prune=prune
            )
        except (BackupError, ToolError, StoreError) as error:
            raise fail(str(error)) from None
    manifest = result.manifest
    if as_json:
        emit_json({"location": result.location, "pruned": result.pruned, "manifest": manifest.model_dump(mode="json")})
        return
    console.print(
        f"backup {manifest.id} written to {result.location}: database {manifest.database} (schema "
        f"{manifest.schema_version}), {len(manifest.model_files())} model files, {_size(manifest.size)}, "
        f"{manifest.duration_s:.1f} s",
        markup=False,
    )
    if result.pruned:
        console.print(f"pruned: {', '.join(result.pruned)}", markup=False)


@backup_app.command("list")
def backup_list(to: DestinationOption = None, as_json: JsonOption = False) -> None:
    """The backups of the destination, newest first; incomplete ones (no manifest) are marked."""
    settings = settings_or_exit()
    store = _store(to, settings, _backup_settings())
    try:
        listed = list_backups(store)
    except StoreError as error:
        raise fail(str(error)) from None
    if as_json:
        emit_json([
            {"id": b.id, "complete": b.complete, "created_at": b.created_at.isoformat() if b.created_at else None,
             "manifest": b.manifest.model_dump(mode="json") if b.manifest else None}
            for b in listed
        ])  # fmt: skip
        return
    table = Table(
        "backup", "created (UTC)", "database", "schema", "files", "size", title=f"Backups in {store.location}"
    )
    for b in listed:
        m = b.manifest
        created = b.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if b.created_at else "-"
        if m is None:
            table.add_row(b.id, created, "incomplete", "-", "-", "-")
        else:
            table.add_row(b.id, created, m.database, str(m.schema_version), str(len(m.files)), _size(m.size))
    console.print(table)


@backup_app.command("prune")
def backup_prune(
    to: DestinationOption = None,
    keep_last: Annotated[int | None, typer.Option(min=0, help="Keep this many (default VS_BACKUP_KEEP_LAST).")] = None,
    max_age_days: Annotated[
        float | None, typer.Option(min=0, help="Delete older ones (default VS_BACKUP_MAX_AGE_DAYS).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Delete the backups retention expires (more than keep-last, or older than max-age-days; never the newest)."""
    settings = settings_or_exit()
    backup_settings = _backup_settings()
    store = _store(to, settings, backup_settings)
    policy = Policy(
        keep_last=backup_settings.keep_last if keep_last is None else keep_last,
        max_age_days=backup_settings.max_age_days if max_age_days is None else max_age_days,
    )
    try:
        pruned = prune_backups(store, policy, datetime.now(UTC))
    except (StoreError, OSError) as error:
        raise fail(str(error)) from None
    if as_json:
        emit_json({"pruned": pruned})
        return
    console.print(f"pruned: {', '.join(pruned)}" if pruned else "nothing to prune", markup=False)


def restore_command(
    backup: Annotated[
        str, typer.Argument(help="A backup id of the destination, `latest`, or a full location (DIR/ID, s3://B/P/ID).")
    ],
    source: Annotated[
        str | None, typer.Option("--from", help="Where the backups are (default VS_BACKUP_DESTINATION).")
    ] = None,
    owner_url: Annotated[
        str | None, typer.Option(help="The target database as its owner (default VS_DATABASE_OWNER_URL).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="The application's login to it (default VS_DATABASE_URL).")
    ] = None,
    jobs: Annotated[
        int | None, typer.Option(min=1, help="pg_restore workers (default VS_BACKUP_RESTORE_JOBS).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Restore a backup into an EMPTY database: checksums first, then the database, the application role's grants,
    the model artifacts; a non-empty database or a corrupted file is refused. Then runs the doctor's checks."""
    settings = settings_or_exit()
    backup_settings = _backup_settings()
    if jobs is not None:
        backup_settings = backup_settings.model_copy(update={"restore_jobs": jobs})
    if "/" in backup:
        source, _, backup = backup.rstrip("/").rpartition("/")
    store = _store(source, settings, backup_settings)
    if backup == "latest":
        complete = [b for b in list_backups(store) if b.complete]
        if not complete:
            raise fail(f"{store.location} has no complete backup")
        backup = complete[0].id
    if owner_url is not None:
        result_urls = (owner_url, database_url or owner_url)
        context: Any = contextlib.nullcontext()
    else:
        context = services_or_exit(settings)
    with context as services:
        owner, app = result_urls if owner_url is not None else (services.migration_url, services.database_url)
        try:
            result = run_restore(store, backup, owner, app, settings.resolved_model_dir, backup_settings)
        except (RestoreError, ToolError, StoreError) as error:
            raise fail(str(error)) from None
        checks = [check_postgres(app), check_audit_log(app)]
    healthy = all(c.ok for c in checks)
    if as_json:
        emit_json({
            "backup": backup, "database": result.database, "app_role": result.app_role,
            "migrations_applied": result.migrations_applied, "models_restored": result.models_restored,
            "artifact_paths_moved": result.artifact_paths_moved, "timings_s": result.timings_s,
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
        })  # fmt: skip
    else:
        console.print(
            f"restored {backup} ({result.manifest.created_at:%Y-%m-%d %H:%M:%S} UTC) into {result.database}: "
            f"{result.models_restored} model files, grants for {result.app_role or 'no separate application role'}, "
            f"{sum(result.timings_s.values()):.1f} s",
            markup=False,
        )
        if result.migrations_applied:
            console.print(f"migrated up: {', '.join(f'{v:04d}' for v in result.migrations_applied)}", markup=False)
        for check in checks:
            console.print(f"{check.name}: {'healthy' if check.ok else 'FAILING'}: {check.detail}", markup=False)
    if not healthy:
        raise fail("the restored database fails the doctor's checks (see above)")


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"
