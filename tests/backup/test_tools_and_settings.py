"""Which pg_dump / pg_restore runs (by the server's major version), how the settings are read, and manifest names
that could escape the restore folder. No services."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.backup import tools
from sentinel.backup.manifest import safe_name
from sentinel.backup.settings import load_backup_settings


def fake_tool(directory: Path, name: str, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) {version}'\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[int, Path]:
    """Client tools of PostgreSQL 14, 15 and 18 in three directories, as a machine with several might have."""
    dirs = {major: tmp_path / f"pg{major}" for major in (14, 15, 18)}
    for major, directory in dirs.items():
        fake_tool(directory, "pg_dump", f"{major}.3")
        fake_tool(directory, "pg_restore", f"{major}.3")
    monkeypatch.setattr(tools, "candidate_dirs", lambda configured=None: [*([configured] if configured else []),
                                                                         *dirs.values()])  # fmt: skip
    return dirs


def test_the_tool_of_the_servers_major_version_is_chosen(installed: dict[int, Path]) -> None:
    assert tools.choose("pg_dump", 15, 15).major == 15
    assert tools.choose("pg_dump", 18, 18).path == installed[18] / "pg_dump"


def test_without_an_exact_match_the_oldest_newer_tool_is_chosen(installed: dict[int, Path]) -> None:
    assert tools.choose("pg_dump", 16, 16).major == 18
    # An archive written by pg_dump 15 restored into a PostgreSQL 14: pg_restore must read the archive (>= 15).
    assert tools.choose("pg_restore", 15, 14).major == 15


def test_no_tool_new_enough_is_a_clear_error(installed: dict[int, Path]) -> None:
    with pytest.raises(tools.ToolError, match=r"no pg_dump of PostgreSQL 19 or newer .*VS_BACKUP_PG_BIN_DIR"):
        tools.choose("pg_dump", 19, 19)


def test_a_configured_directory_wins_when_its_version_fits(installed: dict[int, Path], tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    fake_tool(mine, "pg_dump", "18.1")
    assert tools.choose("pg_dump", 15, 15, configured=mine).path == mine / "pg_dump"
    with pytest.raises(tools.ToolError):
        tools.choose("pg_dump", 19, 19, configured=mine)


def test_the_password_goes_to_the_environment_not_the_command_line() -> None:
    args, env = tools.connection_args("postgresql://owner:s3cret@db.example:5433/vsentinel?sslmode=require")
    assert env == {"PGPASSWORD": "s3cret"}
    assert "s3cret" not in " ".join(args) and "dbname=vsentinel" in args[1] and "port=5433" in args[1]


def test_settings_come_from_the_yaml_section_and_vs_backup_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text("log_level: INFO\nbackup:\n  keep_last: 14\n  destination: s3://from-yaml/x\n")
    monkeypatch.setenv("VS_CONFIG_FILE", str(config))
    monkeypatch.setenv("VS_BACKUP_DESTINATION", "/srv/backups")
    settings = load_backup_settings()
    assert (settings.keep_last, settings.max_age_days, settings.destination) == (14, 7.0, "/srv/backups")


def test_the_shipped_settings_keep_seven_daily_backups_seven_days(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VS_CONFIG_FILE", "VS_BACKUP_KEEP_LAST", "VS_BACKUP_MAX_AGE_DAYS", "VS_BACKUP_DESTINATION"):
        monkeypatch.delenv(name, raising=False)
    settings = load_backup_settings()
    assert (settings.keep_last, settings.max_age_days) == (7, 7.0)
    assert settings.destination_for(Path("/data")) == "/data/backups"


@pytest.mark.parametrize("name", ["../etc/passwd", "/etc/passwd", "models/../../x", ""])
def test_a_manifest_name_that_leaves_the_backup_folder_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="unsafe file name"):
        safe_name(name)
