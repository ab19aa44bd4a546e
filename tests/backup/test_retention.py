"""Retention deletes exactly the backups that are too many or too old, never the newest, with the clock given."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sentinel.backup.manifest import Manifest
from sentinel.backup.retention import Policy, backup_id_for, list_backups, prune
from sentinel.backup.stores import MANIFEST, LocalStore

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def fake_backup(store: LocalStore, created_at: datetime, *, complete: bool = True) -> str:
    """A backup folder with a manifest (no real dump: retention reads only the manifest)."""
    backup_id = backup_id_for(created_at)
    folder = store.root / backup_id
    folder.mkdir(parents=True)
    (folder / "database.dump").write_bytes(b"not a dump")
    if complete:
        manifest = Manifest(
            id=backup_id, created_at=created_at, database="vs", schema_version=20, server_version="15",
            model_dir="/models", files=[],
        )  # fmt: skip
        (folder / MANIFEST).write_bytes(manifest.to_json())
    return backup_id


def daily(store: LocalStore, days: int, hour: int = 2) -> list[str]:
    """One backup a day at `hour`, the newest first (today's)."""
    today = NOW.replace(hour=hour, minute=15)
    return [fake_backup(store, today - timedelta(days=d)) for d in range(days)]


def remaining(store: LocalStore) -> list[str]:
    return [b.id for b in list_backups(store)]


def test_seven_daily_backups_kept_seven_days_the_eighth_and_older_go(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    ids = daily(store, 10)
    pruned = prune(store, Policy(keep_last=7, max_age_days=7), NOW)
    assert sorted(pruned) == sorted(ids[7:])
    assert remaining(store) == ids[:7]


def test_count_limit_alone_keeps_the_newest_n(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    # Several a day (manual backups beside the scheduled one): the count limit bites before the age.
    ids = [fake_backup(store, NOW - timedelta(hours=h)) for h in range(1, 6)]
    assert sorted(prune(store, Policy(keep_last=3, max_age_days=7), NOW)) == sorted(ids[3:])
    assert remaining(store) == ids[:3]


def test_age_limit_alone_drops_what_is_older_than_the_limit(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    fresh = [fake_backup(store, NOW - timedelta(days=d, hours=1)) for d in (0, 1, 2)]
    just_inside = fake_backup(store, NOW - timedelta(days=2, hours=23, minutes=59))
    old = [fake_backup(store, NOW - timedelta(days=3, minutes=1)), fake_backup(store, NOW - timedelta(days=9))]
    assert sorted(prune(store, Policy(keep_last=0, max_age_days=3), NOW)) == sorted(old)
    assert sorted(remaining(store)) == sorted([*fresh, just_inside])


def test_the_newest_backup_is_kept_however_old(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    # The schedule stopped for a month: every backup is past the age limit, the last good one stays.
    ids = [fake_backup(store, NOW - timedelta(days=d)) for d in (30, 31, 32)]
    assert sorted(prune(store, Policy(keep_last=7, max_age_days=7), NOW)) == sorted(ids[1:])
    assert remaining(store) == [ids[0]]


def test_an_unfinished_backup_goes_once_a_newer_complete_one_exists(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    broken = fake_backup(store, NOW - timedelta(hours=5), complete=False)
    running = fake_backup(store, NOW - timedelta(minutes=1), complete=False)  # may still be uploading
    good = fake_backup(store, NOW - timedelta(hours=1))
    staging = tmp_path / ".staging-vs-20261101T000000Z"  # a process killed before it published
    staging.mkdir()
    os.utime(staging, (NOW.timestamp() - 2 * 86400,) * 2)
    assert prune(store, Policy(keep_last=7, max_age_days=7), NOW) == [broken]
    assert sorted(remaining(store)) == sorted([good, running])
    assert not staging.exists()


def test_nothing_expired_deletes_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    ids = daily(store, 3)
    assert prune(store, Policy(keep_last=7, max_age_days=7), NOW) == []
    assert remaining(store) == ids


@pytest.mark.parametrize("limits", [(0, 0)])
def test_no_limits_keep_everything(tmp_path: Path, limits: tuple[int, float]) -> None:
    store = LocalStore(tmp_path)
    ids = daily(store, 12)
    assert prune(store, Policy(*limits), NOW) == []
    assert remaining(store) == ids
