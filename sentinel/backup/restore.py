"""`run_restore`: a backup into an empty database, checked first, with the roles the migrations set up.

Order: the manifest; the target must be empty; every file is downloaded and its sha256 and size checked (one bad
file refuses the whole restore, by name, before anything is written); model artifacts may not overwrite different
files of the same name; then pg_restore, then the migrations (a backup of an older schema comes up to date) with
the application role's grants, then the artifacts and the statistics.

The archive's owners and grants name the roles of the server it came from; they are not replayed. The restoring
login owns everything (as the migrating owner does), the application role gets what sentinel/db/roles.py grants
after a migration, and the migrations' own revocations from PUBLIC (the audit chain's functions) are replayed
from the archive.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from sentinel.backup import tools
from sentinel.backup.create import server_facts
from sentinel.backup.manifest import DATABASE_FILE, MODELS_DIR, Manifest, safe_name, sha256_of
from sentinel.backup.settings import BackupSettings
from sentinel.backup.stores import MANIFEST, Store, StoreError
from sentinel.db import migrate

log = logging.getLogger(__name__)


class RestoreError(Exception):
    """The restore was refused or failed; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class RestoreResult:
    manifest: Manifest
    database: str
    app_role: str | None
    migrations_applied: list[int]
    models_restored: int
    artifact_paths_moved: int
    timings_s: dict[str, float] = field(default_factory=dict)


def read_manifest(store: Store, backup_id: str) -> Manifest:
    if not store.has_manifest(backup_id):
        known = store.backup_ids()
        hint = "it did not finish (no manifest)" if backup_id in known else "no such backup"
        raise RestoreError(f"{store.location}: cannot restore {backup_id}: {hint}")
    try:
        return Manifest.model_validate_json(store.read_bytes(backup_id, MANIFEST))
    except ValueError as error:
        raise RestoreError(f"{store.location}/{backup_id}: unreadable manifest: {error}") from None


def database_contents(url: str) -> list[str]:
    """What the database already holds outside the system schemas: relations and functions, a few named."""
    with psycopg.connect(url, connect_timeout=10) as conn:
        rows = conn.execute(
            """
            SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
              AND n.nspname NOT LIKE 'pg_temp%%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
            UNION ALL
            SELECT n.nspname || '.' || p.proname || '()' FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
            ORDER BY 1
            """
        ).fetchall()
    return [row[0] for row in rows]


def ensure_empty(url: str, database: str) -> None:
    found = database_contents(url)
    if found:
        shown = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
        raise RestoreError(
            f"database {database} is not empty ({len(found)} objects: {shown}); a restore needs an empty database:"
            f" create a new one (createdb) or drop and recreate this one, then restore again"
        )


def verify(store: Store, manifest: Manifest, into: Path) -> None:
    """Downloads every file of the backup into `into` and checks it against the manifest; raises naming every
    file that is missing or differs."""
    bad = []
    for entry in manifest.files:
        target = into / safe_name(entry.name)
        try:
            store.download(manifest.id, entry.name, target)
        except StoreError:
            bad.append(f"{entry.name} (missing)")
            continue
        size = target.stat().st_size
        if size != entry.size or sha256_of(target) != entry.sha256:
            bad.append(f"{entry.name} (checksum mismatch: {size} bytes, manifest says {entry.size})")
    if bad:
        raise RestoreError(
            f"backup {manifest.id} is corrupted, nothing was restored: {', '.join(bad)}; restore an older backup"
        )


def _model_targets(manifest: Manifest, staged: Path, model_dir: Path) -> list[tuple[Path, Path]]:
    """(source, target) of each artifact to copy; refuses to overwrite a different file of the same name."""
    pairs, clashes = [], []
    for entry in manifest.model_files():
        relative = safe_name(entry.name).relative_to(MODELS_DIR)
        target = model_dir / relative
        if target.exists():
            if sha256_of(target) != entry.sha256:
                clashes.append(str(target))
            continue
        pairs.append((staged / entry.name, target))
    if clashes:
        raise RestoreError(
            f"the model directory {model_dir} has different files where the backup's artifacts go: "
            f"{', '.join(clashes[:3])}; point VS_MODEL_DIR at an empty directory"
        )
    return pairs


def _public_revocations(restore_tool: tools.Tool, dump: Path) -> list[str]:
    """The archive's `REVOKE ... FROM PUBLIC` statements (a migration's, not a role's of the old server)."""
    listing = tools.output(restore_tool, ["--list", str(dump)])
    acl_lines = [line for line in listing.splitlines() if " ACL " in line and not line.startswith(";")]
    if not acl_lines:
        return []
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as handle:
        handle.write("\n".join(acl_lines) + "\n")
    try:
        script = tools.output(restore_tool, [f"--use-list={handle.name}", "--file=-", str(dump)])
    finally:
        Path(handle.name).unlink(missing_ok=True)
    return [line for line in script.splitlines() if line.startswith("REVOKE ") and line.endswith(" FROM PUBLIC;")]


def run_restore(
    store: Store,
    backup_id: str,
    owner_url: str,
    app_url: str,
    model_dir: Path,
    settings: BackupSettings,
) -> RestoreResult:
    """Restores `backup_id` of `store` into the empty database `owner_url` connects to (as its owner) and its
    artifacts into `model_dir`; `app_url` is the application's login, granted as after a migration."""
    timings: dict[str, float] = {}
    mark = time.monotonic()
    manifest = read_manifest(store, backup_id)
    latest = max((m.version for m in migrate.discover()), default=0)
    if manifest.schema_version is not None and manifest.schema_version > latest:
        raise RestoreError(
            f"backup {backup_id} has schema version {manifest.schema_version}, newer than this version of"
            f" ViolationSentinel knows ({latest}): restore it with the version that made it"
        )
    target = server_facts(owner_url)
    ensure_empty(owner_url, target.database)
    dump_major = tools.major_of(manifest.tools.get("pg_dump", "")) or target.major
    restore_tool = tools.choose("pg_restore", dump_major, target.major, settings.pg_bin_dir)
    staged = Path(tempfile.mkdtemp(prefix=f"restore-{backup_id}-", dir=settings.work_dir))
    try:
        verify(store, manifest, staged)
        copies = _model_targets(manifest, staged, model_dir)
        timings["download_and_verify"] = time.monotonic() - mark
        mark = time.monotonic()
        _restore_database(restore_tool, staged / DATABASE_FILE, owner_url, settings.restore_jobs)
        timings["pg_restore"] = time.monotonic() - mark
        mark = time.monotonic()
        try:
            applied, app_role = migrate.upgrade_roles(owner_url, app_url)
        except Exception as error:
            raise RestoreError(f"the restored database could not be migrated or granted: {error}") from None
        timings["migrate_and_grant"] = time.monotonic() - mark
        for source, destination in copies:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
        moved = _relocate_artifacts(owner_url, manifest.model_dir, model_dir)
        mark = time.monotonic()
        with psycopg.connect(owner_url, autocommit=True) as conn:
            conn.execute("ANALYZE")  # pg_restore brings no planner statistics; without them first queries crawl
        timings["analyze"] = time.monotonic() - mark
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    log.info("backup restored", extra={"backup": backup_id, "database": target.database})
    return RestoreResult(
        manifest, target.database, app_role, [m.version for m in applied], len(copies), moved,
        {k: round(v, 3) for k, v in timings.items()},
    )  # fmt: skip


def _restore_database(tool: tools.Tool, dump: Path, owner_url: str, jobs: int) -> None:
    args = ["--no-owner", "--no-acl", "--exit-on-error"]
    # One transaction: a failure leaves the database empty, so the restore can simply be run again. Parallel
    # workers are faster on a big database but a failure then leaves a partial one to drop.
    args += ["--single-transaction"] if jobs == 1 else [f"--jobs={jobs}"]
    try:
        revocations = _public_revocations(tool, dump)
        tools.run(tool, [*args, str(dump)], owner_url)
    except tools.ToolError as error:
        raise RestoreError(f"pg_restore failed: {error}") from None
    if revocations:
        with psycopg.connect(owner_url) as conn:
            for statement in revocations:
                conn.execute(statement.encode())  # the archive's own DDL, no values in it
            conn.commit()


def _relocate_artifacts(owner_url: str, old_dir: str, new_dir: Path) -> int:
    """Registry rows naming artifacts under the backed-up model directory are pointed at the restored copies."""
    old, new = old_dir.rstrip("/"), str(new_dir).rstrip("/")
    if old == new:
        return 0
    with psycopg.connect(owner_url) as conn:
        if conn.execute("SELECT to_regclass('public.models')").fetchone() == (None,):
            return 0
        # A dump from before migration 0021 names artifacts by path (artifact_path); from it on, by URI
        # (artifact_uri: file:// of the path for a local store; a bucket's URIs need no relocation).
        column = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
            " AND table_name = 'models' AND column_name IN ('artifact_uri', 'artifact_path')"
        ).fetchone()[0]
        moved = 0
        pairs = [(old, new)] + ([(Path(old).as_uri(), new_dir.resolve().as_uri())] if column == "artifact_uri" else [])
        for before, after in pairs:
            moved += conn.execute(
                sql.SQL("UPDATE models SET {c} = %s || substr({c}, length(%s) + 1) WHERE starts_with({c}, %s)").format(
                    c=sql.Identifier(column)
                ),
                (after, before, before + "/"),
            ).rowcount
        conn.commit()
    return moved
