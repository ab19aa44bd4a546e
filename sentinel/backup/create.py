"""`run_backup`: one consistent snapshot of the database, the model artifacts, a manifest, then retention.

pg_dump reads the whole database inside one repeatable-read transaction, so the dump is one consistent snapshot
whatever writes meanwhile. The model artifacts are copied after it: artifacts are only ever added (one folder per
version) and registered after they are written, so every model the snapshot references is in the copy.
"""

from __future__ import annotations

import logging
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from sentinel.backup import retention, tools
from sentinel.backup.manifest import DATABASE_FILE, MODELS_DIR, Manifest, entry_for
from sentinel.backup.settings import BackupSettings
from sentinel.backup.stores import MANIFEST, LocalStore, Store, StoreError

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


class BackupError(Exception):
    """The backup did not complete; nothing of it was published."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    manifest: Manifest
    location: str
    pruned: list[str]


@dataclass(frozen=True, slots=True)
class ServerFacts:
    database: str
    server_version: str
    major: int
    schema_version: int | None


def server_facts(url: str) -> ServerFacts:
    with psycopg.connect(url, connect_timeout=10) as conn:
        row = conn.execute(
            "SELECT current_database(), current_setting('server_version'), current_setting('server_version_num')::int"
        ).fetchone()
        assert row is not None
        schema = None
        if conn.execute("SELECT to_regclass('public.schema_migrations')").fetchone() != (None,):
            latest = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
            schema = latest[0] if latest else None
    return ServerFacts(row[0], row[1], row[2] // 10000, schema)


def _copy_models(model_dir: Path, staged: Path) -> list[str]:
    if not model_dir.is_dir():
        return []
    names = []
    for path in sorted(model_dir.rglob("*")):
        if path.is_file() and not path.is_symlink():
            name = f"{MODELS_DIR}/{path.relative_to(model_dir).as_posix()}"
            (staged / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, staged / name)
            names.append(name)
    return names


def _versions(dump_tool: tools.Tool) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("violation-sentinel")
    except PackageNotFoundError:
        ours = "unknown"
    return {"pg_dump": dump_tool.version, "vsentinel": ours, "python": platform.python_version()}


def run_backup(
    database_url: str,
    model_dir: Path,
    store: Store,
    settings: BackupSettings,
    *,
    clock: Clock | None = None,
    prune: bool = True,
) -> BackupResult:
    """Backs up the database `database_url` connects to (the owner's login is best; any role that can read every
    table works) and `model_dir` into `store`, then applies retention when `prune`."""
    now = clock or (lambda: datetime.now(UTC))
    started = time.monotonic()
    facts = server_facts(database_url)
    dump_tool = tools.choose("pg_dump", facts.major, facts.major, settings.pg_bin_dir)
    created_at = now().astimezone(UTC)
    backup_id = retention.backup_id_for(created_at)
    if backup_id in store.backup_ids():
        raise BackupError(f"{store.location} already has a backup {backup_id}")
    if isinstance(store, LocalStore):
        staged = store.staging_dir(backup_id)
    else:
        staged = Path(tempfile.mkdtemp(prefix=f"{backup_id}-", dir=settings.work_dir))
    try:
        # --no-owner/--no-acl are left to the restore: the archive keeps both, so it still tells who owned what.
        tools.run(dump_tool, ["--format=custom", "--compress=6", f"--file={staged / DATABASE_FILE}"], database_url)
        names = [DATABASE_FILE, *_copy_models(model_dir, staged)]
        manifest = Manifest(
            id=backup_id,
            created_at=created_at,
            database=facts.database,
            schema_version=facts.schema_version,
            server_version=facts.server_version,
            model_dir=str(model_dir),
            files=[entry_for(staged, name) for name in names],
            tools=_versions(dump_tool),
            duration_s=round(time.monotonic() - started, 3),
        )
        (staged / MANIFEST).write_bytes(manifest.to_json())
        store.publish(backup_id, staged, [*names, MANIFEST])
    except (tools.ToolError, StoreError, OSError) as error:
        _discard(store, backup_id)
        raise BackupError(f"backup {backup_id} failed: {error}") from None
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    log.info("backup written", extra={"backup": backup_id, "bytes": manifest.size, "location": store.location})
    pruned = retention.prune(store, _policy(settings), now()) if prune else []
    return BackupResult(manifest, store.location, pruned)


def _policy(settings: BackupSettings) -> retention.Policy:
    return retention.Policy(keep_last=settings.keep_last, max_age_days=settings.max_age_days)


def _discard(store: Store, backup_id: str) -> None:
    try:
        if backup_id in store.backup_ids():
            store.delete(backup_id)
    except (StoreError, OSError):
        log.warning("could not remove the parts of a failed backup", extra={"backup": backup_id})
