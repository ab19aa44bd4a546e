"""Rate limits, Redis outages, stale-while-revalidate scores, and the API without a model."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg

from deployments.api.local import local_deps
from deployments.api.settings import ApiSettings
from tests.api import seed
from tests.api.conftest import JWT_SECRET, P_BUSY, REDIS_PREFIX, Api, make_deps
from tests.api.fakes import expected_overall, load_no_model

UNREACHABLE = "redis://127.0.0.1:1/0"


def _login(url: str, email: str) -> dict[str, str]:
    import httpx

    r = httpx.post(f"{url}/v1/auth/token", data={"username": email, "password": seed.PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _poll(check: Callable[[], object], seconds: float = 15.0) -> object:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.05)


def test_rate_limit_answers_429_with_retry_after_then_recovers(
    api: Api, redis_url: str, app_with: Callable[..., str]
) -> None:
    import httpx

    url = app_with(make_deps(api.database_url, redis_url, rate_limit="4 per 2 seconds"))
    headers = _login(url, api.emails["beta"]["manager"])
    other = _login(url, api.emails["beta"]["viewer"])
    with httpx.Client(base_url=url, timeout=30) as c:
        codes = [c.get("/v1/auth/me", headers=headers).status_code for _ in range(4)]
        limited = c.get("/v1/auth/me", headers=headers)
        assert codes == [200] * 4
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limited"
        assert c.get("/v1/auth/me", headers=other).status_code == 200  # another caller has its own bucket
        _poll(lambda: c.get("/v1/auth/me", headers=headers).status_code == 200)


def test_redis_unreachable_the_api_still_answers_and_still_limits(api: Api, app_with: Callable[..., str]) -> None:
    import httpx

    url = app_with(make_deps(api.database_url, UNREACHABLE, rate_limit="30 per minute"))
    headers = _login(url, api.emails["alpha"]["viewer"])
    with httpx.Client(base_url=url, headers=headers, timeout=30) as c:
        assert c.get(f"/v1/properties/{P_BUSY}").status_code == 200
        risk = c.get(f"/v1/properties/{P_BUSY}/risk")
        assert risk.status_code == 200, risk.text
        ready = c.get("/readyz").json()
        assert ready["status"] == "degraded" and ready["checks"]["redis"]["ok"] is False
        codes = [c.get("/v1/auth/me").status_code for _ in range(30)]
    assert 429 in codes  # the in-memory fallback keeps limiting


def test_a_new_violation_makes_the_score_stale_and_it_is_recomputed(api: Api) -> None:
    bbl = "2000040004"
    with psycopg.connect(api.database_url) as conn:
        seed.add_property(conn, bbl, "9 STALE STREET")
        conn.commit()
    with api.as_("alpha", "viewer") as c:
        first = c.get(f"/v1/properties/{bbl}/risk").json()
        assert first["stale"] is False and first["scores"]["overall"] == expected_overall(0)
        assert c.get(f"/v1/properties/{bbl}/risk").json()["computed_at"] == first["computed_at"]  # stored, reused
        with psycopg.connect(api.database_url) as conn:
            seed.add_violation(conn, bbl, klass="C")
            conn.commit()
        second = c.get(f"/v1/properties/{bbl}/risk").json()  # the first read after the new data
        assert second["stale"] is True and second["scores"]["overall"] == expected_overall(0)

        def recomputed() -> dict | None:
            body = c.get(f"/v1/properties/{bbl}/risk").json()
            return body if not body["stale"] and body["scores"]["overall"] == expected_overall(1) else None

        final = _poll(recomputed)
    assert final["computed_at"] > first["computed_at"]


def test_the_stale_read_is_reported_before_the_recompute_lands(api: Api) -> None:
    """With the scorer unable to finish (no model), a stale score stays visible and marked stale."""
    import httpx

    bbl = "3000050005"
    with psycopg.connect(api.database_url) as conn:
        seed.add_property(conn, bbl, "11 MARKED STALE ROAD")
        conn.commit()
    with api.as_("alpha", "viewer") as c:
        assert c.get(f"/v1/properties/{bbl}/risk").json()["stale"] is False
    deps = local_deps(
        database_url=api.database_url,
        redis_url=None,
        jwt_secret=JWT_SECRET,
        settings=ApiSettings(redis_prefix=REDIS_PREFIX),
        model_loader=load_no_model,
        pool_size=2,
    )
    from deployments.api.app import create_app
    from tests.api.servers import running

    try:
        with running(create_app(deps)) as url, httpx.Client(base_url=url, timeout=30) as c2:
            c2.headers.update(_login(url, api.emails["alpha"]["viewer"]))
            with psycopg.connect(api.database_url) as conn:
                seed.add_violation(conn, bbl)
                conn.commit()
            for _ in range(3):
                body = c2.get(f"/v1/properties/{bbl}/risk").json()
                assert body["stale"] is True and body["scores"]["overall"] == expected_overall(0)
    finally:
        deps.close()


def test_without_a_model_risk_answers_503_never_a_made_up_score(api: Api, app_with: Callable[..., str]) -> None:
    import httpx

    bbl = "5000060006"
    with psycopg.connect(api.database_url) as conn:
        seed.add_property(conn, bbl, "1 UNSCORED PLACE")
        conn.commit()
    deps = local_deps(
        database_url=api.database_url, redis_url=None, jwt_secret=JWT_SECRET, model_loader=load_no_model, pool_size=2
    )
    url = app_with(deps)
    with httpx.Client(base_url=url, headers=_login(url, api.emails["alpha"]["viewer"]), timeout=30) as c:
        r = c.get(f"/v1/properties/{bbl}/risk")
        batch = c.post("/v1/risk/batch", json={"bbls": [bbl]})
        ready = c.get("/readyz").json()
    assert r.status_code == 503 and batch.status_code == 503
    assert r.json()["error"]["code"] == "model_unavailable"
    assert "no active risk model" in r.json()["error"]["message"]
    assert "scores" not in r.json()
    assert ready["checks"]["scorer"]["model_ready"] is False and ready["status"] == "degraded"
