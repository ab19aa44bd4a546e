"""Where backups are kept: a local directory or an S3-compatible bucket, behind one small interface.

A backup is a folder `<id>/` of files; its `manifest.json` is written last, so a folder without one is a backup
that did not finish (listed as incomplete, removed by the next prune). A local backup is staged beside its final
place and renamed into it, so it appears whole or not at all.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from sentinel.backup.settings import BackupSettings

MANIFEST = "manifest.json"
_STAGING_PREFIX = ".staging-"


class StoreError(Exception):
    """The destination cannot be reached or does not hold what was asked for."""


class Store(Protocol):
    location: str

    def backup_ids(self) -> list[str]: ...
    def read_bytes(self, backup_id: str, name: str) -> bytes: ...
    def download(self, backup_id: str, name: str, target: Path) -> None: ...
    def publish(self, backup_id: str, staged: Path, names: list[str]) -> None: ...
    def delete(self, backup_id: str) -> None: ...
    def has_manifest(self, backup_id: str) -> bool: ...


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    def _dir(self, backup_id: str) -> Path:
        if not backup_id or "/" in backup_id or backup_id.startswith("."):
            raise StoreError(f"not a backup id: {backup_id!r}")
        return self.root / backup_id

    def backup_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def has_manifest(self, backup_id: str) -> bool:
        return (self._dir(backup_id) / MANIFEST).is_file()

    def read_bytes(self, backup_id: str, name: str) -> bytes:
        try:
            return (self._dir(backup_id) / name).read_bytes()
        except FileNotFoundError:
            raise StoreError(f"{self.location}: backup {backup_id} has no {name}") from None

    def download(self, backup_id: str, name: str, target: Path) -> None:
        source = self._dir(backup_id) / name
        if not source.is_file():
            raise StoreError(f"{self.location}: backup {backup_id} has no {name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    def staging_dir(self, backup_id: str) -> Path:
        """Where a backup to this store is written: the same filesystem, so publishing is a rename."""
        path = self.root / f"{_STAGING_PREFIX}{backup_id}"
        path.mkdir(parents=True, exist_ok=False)
        return path

    def publish(self, backup_id: str, staged: Path, names: list[str]) -> None:
        final = self._dir(backup_id)
        if staged.parent == self.root:
            staged.rename(final)
            return
        final.mkdir(parents=True)
        for name in names:  # the manifest comes last in `names`
            (final / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(staged / name, final / name)

    def delete(self, backup_id: str) -> None:
        shutil.rmtree(self._dir(backup_id), ignore_errors=False)

    def remove_leftovers(self, older_than: datetime) -> list[str]:
        """Removes the staging folders of backups that died before publishing (a running one is younger)."""
        removed = []
        for path in sorted(self.root.glob(f"{_STAGING_PREFIX}*")) if self.root.is_dir() else []:
            if datetime.fromtimestamp(path.stat().st_mtime, UTC) < older_than:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        return removed


class S3Store:
    """A bucket and a key prefix on AWS S3 or any S3-compatible server (MinIO, Ceph, ...), through boto3."""

    def __init__(self, bucket: str, prefix: str, client: Any, location: str) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.location = location

    def _key(self, backup_id: str, name: str = "") -> str:
        if not backup_id or "/" in backup_id:
            raise StoreError(f"not a backup id: {backup_id!r}")
        parts = [p for p in (self.prefix, backup_id, name) if p]
        return "/".join(parts) + ("" if name else "/")

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "?")
            raise StoreError(f"{self.location}: {what}: {code}: {error}") from None
        except BotoCoreError as error:
            raise StoreError(f"{self.location}: {what}: {error}") from None

    def _keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call("list", lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=prefix)))
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"]

    def backup_ids(self) -> list[str]:
        base = f"{self.prefix}/" if self.prefix else ""
        ids = {key[len(base) :].split("/", 1)[0] for key in self._keys(base) if "/" in key[len(base) :]}
        return sorted(ids)

    def has_manifest(self, backup_id: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(backup_id, MANIFEST))
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StoreError(f"{self.location}: {error}") from None

    def read_bytes(self, backup_id: str, name: str) -> bytes:
        key = self._key(backup_id, name)
        body = self._call(f"read {key}", self.client.get_object, Bucket=self.bucket, Key=key)["Body"]
        return body.read()

    def download(self, backup_id: str, name: str, target: Path) -> None:
        key = self._key(backup_id, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._call(f"download {key}", self.client.download_file, Bucket=self.bucket, Key=key, Filename=str(target))

    def publish(self, backup_id: str, staged: Path, names: list[str]) -> None:
        for name in names:  # the manifest comes last: a backup without one is incomplete
            key = self._key(backup_id, name)
            self._call(
                f"upload {key}", self.client.upload_file, Filename=str(staged / name), Bucket=self.bucket, Key=key
            )

    def delete(self, backup_id: str) -> None:
        keys = list(self._keys(self._key(backup_id)))
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = {"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True}
            self._call(f"delete {backup_id}", self.client.delete_objects, Bucket=self.bucket, Delete=batch)


def s3_client(settings: BackupSettings) -> Any:
    import boto3

    secret = settings.s3_secret_access_key
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
    )


def open_store(destination: str, settings: BackupSettings) -> Store:
    """`s3://bucket/prefix` or a directory (`file://` or a plain path)."""
    parts = urlsplit(destination)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise StoreError(f"{destination}: an S3 destination needs a bucket (s3://bucket/prefix)")
        return S3Store(parts.netloc, parts.path, s3_client(settings), destination)
    if parts.scheme == "file":
        return LocalStore(Path(parts.path))
    if parts.scheme:
        raise StoreError(f"{destination}: unknown destination (a directory or s3://bucket/prefix)")
    return LocalStore(Path(destination).expanduser().resolve())
