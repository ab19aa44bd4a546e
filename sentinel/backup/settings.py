"""Backup settings: the `backup:` section of configs/settings.yaml, overridden by `VS_BACKUP_<KEY>` variables.

| variable | default | meaning |
|---|---|---|
| VS_BACKUP_DESTINATION | "" | a directory, or `s3://bucket/prefix`; empty: `VS_DATA_DIR/backups` |
| VS_BACKUP_KEEP_LAST | 7 | keep at most this many backups (0: no count limit) |
| VS_BACKUP_MAX_AGE_DAYS | 7 | delete backups older than this (0: no age limit) |
| VS_BACKUP_S3_ENDPOINT_URL | unset | an S3-compatible server (MinIO, Ceph, ...); unset: AWS |
| VS_BACKUP_S3_REGION | unset | the bucket's region |
| VS_BACKUP_S3_ACCESS_KEY_ID, VS_BACKUP_S3_SECRET_ACCESS_KEY | unset | unset: boto3's chain (AWS_*, ~/.aws, a role) |
| VS_BACKUP_PG_BIN_DIR | unset | where pg_dump and pg_restore are; unset: the best match of the server's version found |
| VS_BACKUP_WORK_DIR | unset | where a backup is staged before upload and a restore downloads to; unset: the temp dir |
| VS_BACKUP_RESTORE_JOBS | 1 | pg_restore workers; 1 restores in one transaction (all or nothing) |

The newest backup is never pruned, whatever its age: a schedule that stopped for a while must not end with none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from sentinel.settings import ENV_PREFIX, FileBackedSettings


class BackupSettings(FileBackedSettings):
    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}BACKUP_", extra="ignore")
    file_section = "backup"

    destination: str = ""
    keep_last: int = Field(default=7, ge=0)
    max_age_days: float = Field(default=7.0, ge=0)
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    pg_bin_dir: Path | None = None
    work_dir: Path | None = None
    restore_jobs: int = Field(default=1, ge=1, le=64)

    def destination_for(self, data_dir: Path) -> str:
        return self.destination or str(data_dir / "backups")


def load_backup_settings(**overrides: Any) -> BackupSettings:
    return BackupSettings(**overrides)
