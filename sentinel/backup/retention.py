"""Which backups to delete: more than `keep_last`, or older than `max_age_days`; never the newest complete one.

Pure selection (`expired`) with the clock passed in, and `prune`, which applies it to a store. A backup that never
got its manifest (it died half-way) is deleted once it is older than a day, or at once if a newer complete one
exists: it can never be restored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sentinel.backup.manifest import Manifest
from sentinel.backup.stores import MANIFEST, LocalStore, Store, StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Policy:
    keep_last: int  # 0: no count limit
    max_age_days: float  # 0: no age limit


@dataclass(frozen=True, slots=True)
class Listed:
    id: str
    manifest: Manifest | None  # None: incomplete (no manifest, or one that cannot be read)
    created_at: datetime | None

    @property
    def complete(self) -> bool:
        return self.manifest is not None


def expired(backups: list[Listed], policy: Policy, now: datetime) -> list[Listed]:
    complete = sorted((b for b in backups if b.complete), key=lambda b: b.created_at or now, reverse=True)
    doomed = []
    for rank, backup in enumerate(complete):
        if rank == 0:
            continue  # the last good backup stays, however old
        assert backup.created_at is not None
        too_many = policy.keep_last > 0 and rank >= policy.keep_last
        too_old = policy.max_age_days > 0 and now - backup.created_at > timedelta(days=policy.max_age_days)
        if too_many or too_old:
            doomed.append(backup)
    newest = complete[0].created_at if complete else None
    for backup in backups:
        if backup.complete:
            continue
        started = backup.created_at
        if started is None or now - started > timedelta(days=1) or (newest is not None and newest > started):
            doomed.append(backup)
    return doomed


def list_backups(store: Store) -> list[Listed]:
    """Every backup of the store, newest first; incomplete ones carry the time in their id, if any."""
    listed = []
    for backup_id in store.backup_ids():
        manifest = None
        if store.has_manifest(backup_id):
            try:
                manifest = Manifest.model_validate_json(store.read_bytes(backup_id, MANIFEST))
            except (ValueError, StoreError):
                log.warning("unreadable backup manifest", extra={"backup": backup_id})
        created = manifest.created_at if manifest else time_of_id(backup_id)
        listed.append(Listed(backup_id, manifest, created))
    return sorted(listed, key=lambda b: (b.created_at is not None, b.created_at or 0, b.id), reverse=True)


def prune(store: Store, policy: Policy, now: datetime) -> list[str]:
    """Deletes the expired backups of `store`; returns their ids."""
    doomed = expired(list_backups(store), policy, now)
    if isinstance(store, LocalStore):
        store.remove_leftovers(older_than=now - timedelta(days=1))
    for backup in doomed:
        store.delete(backup.id)
        log.info("backup pruned", extra={"backup": backup.id, "complete": backup.complete})
    return [b.id for b in doomed]


ID_FORMAT = "%Y%m%dT%H%M%SZ"


def backup_id_for(when: datetime) -> str:
    return f"vs-{when.strftime(ID_FORMAT)}"


def time_of_id(backup_id: str) -> datetime | None:
    try:
        return datetime.strptime(backup_id.removeprefix("vs-")[: len("20260101T000000Z")], ID_FORMAT).replace(
            tzinfo=UTC
        )
    except ValueError:
        return None
