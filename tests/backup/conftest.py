"""A real S3-compatible server for the backup tests: moto's, speaking the S3 wire protocol over HTTP on an
ephemeral port (boto3 talks to it exactly as to AWS or MinIO), one per test session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from sentinel.backup.settings import BackupSettings
from tests.s3 import running_s3


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with running_s3() as server:
        yield server.endpoint


@pytest.fixture
def s3_settings(s3_endpoint: str) -> BackupSettings:
    return BackupSettings(
        s3_endpoint_url=s3_endpoint, s3_region="us-east-1", s3_access_key_id="test", s3_secret_access_key="test"
    )


@pytest.fixture
def s3_bucket(s3_settings: BackupSettings) -> str:
    """A fresh bucket: `s3://<name>/nightly` is the destination."""
    from sentinel.backup.stores import s3_client

    name = f"vs-backups-{uuid.uuid4().hex[:8]}"
    s3_client(s3_settings).create_bucket(Bucket=name)
    return name
