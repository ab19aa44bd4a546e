"""Where trained models and their reports live: one interface over a local folder and an S3-compatible bucket.

Artifacts are addressed by URI: `file:///srv/models/<version>/<kind>` or `s3://bucket/prefix/<version>/<kind>`;
the `models` table stores that URI (migration 0021), so any node that can read the store loads the model, whichever
node trained it. On a multi-node cluster the root (`VS_ARTIFACT_STORE`) is a bucket every node reads, or a folder
on a file system every node mounts at the same path. Unset: `file://` of `VS_MODEL_DIR` (default
`VS_DATA_DIR/models`), which serves a single machine.

An artifact is immutable once written (a new model is a new version), so a bucket's files are downloaded once per
machine into a cache keyed by the URI. Credentials and a non-AWS endpoint (MinIO, Ceph, a test server) come from
boto3's own variables: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL_S3`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit

SCHEMES = ("file", "s3")
# What a process needs to reach a bucket (boto3 and pyarrow's S3 file system read these names): the driver's values
# go to every Ray process of its job when a store or Ray's storage is a bucket (cluster/runtime_env.py).
S3_ENVIRONMENT = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)


class ArtifactStoreError(ValueError):
    pass


class ArtifactStore(Protocol):
    root: str

    def uri(self, relative: str) -> str: ...
    def put_dir(self, local: Path, relative: str) -> str: ...
    def put_bytes(self, relative: str, data: bytes) -> str: ...
    def local_dir(self, uri: str) -> Path: ...
    def read_bytes(self, uri: str) -> bytes | None: ...


def join(root: str, relative: str) -> str:
    return f"{root.rstrip('/')}/{relative.strip('/')}" if relative else root.rstrip("/")


def storage_uri(value: str | Path) -> str:
    """A place for Ray Tune and Train's storage (`storage_path`): an s3:// URI as given (no trailing slash), a
    `file://` URI or a path as an absolute path, which Ray takes on every node."""
    text = str(value)
    parts = urlsplit(text)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ArtifactStoreError(f"{text!r} is not an s3://bucket/prefix URI")
        return text.rstrip("/")
    if parts.scheme == "file":
        return str(Path(unquote(parts.path)))
    if parts.scheme and len(parts.scheme) > 1:  # a one-letter "scheme" is a Windows drive
        raise ArtifactStoreError(f"{text!r}: only s3:// or file:// URIs or a path")
    return str(Path(text).expanduser().absolute())


def s3_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The `S3_ENVIRONMENT` variables this process has."""
    environ = os.environ if environ is None else environ
    return {k: environ[k] for k in S3_ENVIRONMENT if environ.get(k)}


def is_uri(value: str) -> bool:
    return urlsplit(value).scheme in SCHEMES


def resolve(stored: str, store: ArtifactStore) -> str:
    """The URI of a `models` row's artifact: rows written before migration 0021 hold a local path, absolute (now
    `file://` by the migration) or relative to the model directory (re-rooted on the store)."""
    if is_uri(stored):
        return stored
    path = Path(stored)
    return path.as_uri() if path.is_absolute() else store.uri(stored)


@dataclass(frozen=True)
class LocalStore:
    """A folder: on one machine, or a shared file system mounted at the same path on every node."""

    directory: Path

    @property
    def root(self) -> str:
        return self.directory.resolve().as_uri()

    def uri(self, relative: str) -> str:
        return join(self.root, quote(relative))

    def _path(self, uri: str) -> Path:
        parts = urlsplit(uri)
        if parts.scheme != "file":
            raise ArtifactStoreError(f"{uri} is not in the local artifact store {self.root}")
        return Path(unquote(parts.path))

    def put_dir(self, local: Path, relative: str) -> str:
        target = self.directory / relative
        if local.resolve() != target.resolve():
            shutil.copytree(local, target, dirs_exist_ok=True)
        return self.uri(relative)

    def put_bytes(self, relative: str, data: bytes) -> str:
        target = self.directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return self.uri(relative)

    def local_dir(self, uri: str) -> Path:
        return self._path(uri)

    def read_bytes(self, uri: str) -> bytes | None:
        path = self._path(uri)
        return path.read_bytes() if path.exists() else None


@dataclass
class S3Store:
    """A bucket (AWS S3 or any S3-compatible server): `s3://bucket/prefix`."""

    root: str
    cache_dir: Path
    client: Any = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.root)
        if parts.scheme != "s3" or not parts.netloc:
            raise ArtifactStoreError(f"{self.root!r} is not an s3://bucket/prefix URI")
        self.root = self.root.rstrip("/")
        if self.client is None:
            import boto3  # only a process that uses a bucket pays for boto3's import

            self.client = boto3.client("s3")

    def uri(self, relative: str) -> str:
        return join(self.root, relative)

    @staticmethod
    def _split(uri: str) -> tuple[str, str]:
        parts = urlsplit(uri)
        if parts.scheme != "s3":
            raise ArtifactStoreError(f"{uri} is not an s3:// URI")
        return parts.netloc, parts.path.lstrip("/")

    def put_dir(self, local: Path, relative: str) -> str:
        bucket, prefix = self._split(self.uri(relative))
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            self.client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(local).as_posix()}")
        return self.uri(relative)

    def put_bytes(self, relative: str, data: bytes) -> str:
        bucket, key = self._split(self.uri(relative))
        self.client.put_object(Bucket=bucket, Key=key, Body=data)
        return self.uri(relative)

    def local_dir(self, uri: str) -> Path:
        """The artifact's files on this machine: downloaded once into the cache (whole, or not at all)."""
        target = self.cache_dir / hashlib.sha256(uri.encode()).hexdigest()[:32]
        if target.is_dir():
            return target
        bucket, prefix = self._split(uri)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.cache_dir, prefix=".partial-"))
        try:
            found = 0
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
                for item in page.get("Contents", []):
                    dest = staging / item["Key"][len(prefix) + 1 :]
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    self.client.download_file(bucket, item["Key"], str(dest))
                    found += 1
            if not found:
                raise FileNotFoundError(f"no artifact at {uri}")
            try:
                os.rename(staging, target)  # another process may have finished the same download first
            except OSError:
                if not target.is_dir():
                    raise
            return target
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def read_bytes(self, uri: str) -> bytes | None:
        bucket, key = self._split(uri)
        try:
            return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None


def open_store(root: str | Path, cache_dir: Path, client: Any = None) -> ArtifactStore:
    """The store at `root`: an `s3://` URI, a `file://` URI or a plain path."""
    text = str(root)
    scheme = urlsplit(text).scheme
    if scheme == "s3":
        return S3Store(text, cache_dir, client)
    if scheme == "file":
        return LocalStore(Path(unquote(urlsplit(text).path)))
    if scheme:
        raise ArtifactStoreError(f"artifact store {text!r}: only {', '.join(SCHEMES)} URIs or a path")
    return LocalStore(Path(text))


def as_store(value: ArtifactStore | str | Path | None, cache_dir: Path | None = None) -> ArtifactStore:
    """A store from a store, a root URI or a model directory (callers that predate URIs pass a directory)."""
    if value is None:
        return LocalStore(Path("."))
    if isinstance(value, str | Path):
        return open_store(value, cache_dir or Path(tempfile.gettempdir()) / "vsentinel-artifact-cache")
    return value


def fetch(stored: str, store: ArtifactStore) -> Path:
    """The local directory holding the artifact a `models` row names (downloaded first from a bucket)."""
    uri = resolve(stored, store)
    if urlsplit(uri).scheme == "file":
        return Path(unquote(urlsplit(uri).path))
    return store.local_dir(uri)


def parent(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[0]


def from_settings(settings: Any) -> ArtifactStore:
    """The store the settings name (`sentinel.settings.Settings`: VS_ARTIFACT_STORE, else VS_MODEL_DIR)."""
    return open_store(settings.artifact_root, settings.artifact_cache_dir)


def read_bytes(uri: str, store: ArtifactStore) -> bytes | None:
    """One file's bytes (None when it is not there); a `file://` URI is read where it is, whatever the store."""
    if urlsplit(uri).scheme == "file":
        path = Path(unquote(urlsplit(uri).path))
        return path.read_bytes() if path.is_file() else None
    return store.read_bytes(uri)
