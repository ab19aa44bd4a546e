"""/readyz reveals no exception text and notices a promoted model without a restart (issue 16, item 6)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest

from deployments.api.local import local_deps
from deployments.api.settings import ApiSettings
from sentinel.risk.score import SCORE_KINDS
from tests.api.conftest import JWT_SECRET, P_QUIET, REDIS_PREFIX, Api, seed_city
from tests.api.fakes import load_counting_model_once_promoted, load_failing_model
from tests.conftest import drop_database, migrated_database


@pytest.fixture
def own_database(pg_admin_url: str) -> Iterator[str]:
    """Promotions change the models table: this test's own database, so no other test sees them."""
    name, _, url = migrated_database(pg_admin_url, prefix="vs_ready")
    with psycopg.connect(url) as conn:
        seed_city(conn)
    yield url
    drop_database(pg_admin_url, name)


def _deps(database_url: str, redis_url: str, loader: Callable) -> object:
    return local_deps(
        database_url=database_url,
        redis_url=redis_url,
        jwt_secret=JWT_SECRET,
        settings=ApiSettings(redis_prefix=REDIS_PREFIX, model_poll_seconds=0.2),
        model_loader=loader,
        pool_size=2,
    )


def test_readiness_follows_a_promotion_without_a_restart(
    own_database: str, redis_url: str, app_with: Callable[..., str]
) -> None:
    url = app_with(_deps(own_database, redis_url, load_counting_model_once_promoted))
    ready = httpx.get(f"{url}/readyz", timeout=10).json()
    assert ready["status"] == "degraded" and ready["checks"]["scorer"]["model_ready"] is False
    with psycopg.connect(own_database) as conn:
        for kind in SCORE_KINDS:
            conn.execute(
                "INSERT INTO models (score_kind, version, artifact_uri, is_active, promoted_at) "
                "VALUES (%s, 'v2', 'unused', true, now())",
                (kind,),
            )
    deadline = time.monotonic() + 15
    while not (ready := httpx.get(f"{url}/readyz", timeout=10).json())["checks"]["scorer"]["model_ready"]:
        assert time.monotonic() < deadline, f"the promotion was never noticed: {ready}"
        time.sleep(0.1)
    assert ready["status"] == "ready"


def test_readiness_and_risk_answers_show_no_exception_text(
    api: Api, redis_url: str, app_with: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    url = app_with(_deps(api.database_url, redis_url, load_failing_model))
    ready = httpx.get(f"{url}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["checks"]["scorer"]["model_ready"] is False
    assert "s3cr3t" not in ready.text and "secret-models" not in ready.text and "RuntimeError" not in ready.text
    with httpx.Client(base_url=url, headers=api.login("alpha", "viewer"), timeout=10) as client:
        risk = client.get(f"/v1/properties/{P_QUIET}/risk")
    assert risk.status_code == 503 and "s3cr3t" not in risk.text
    assert any("s3cr3t" in (record.exc_text or str(record.exc_info)) for record in caplog.records)
