"""The same API through real Ray Serve: Gateway ingress -> RiskScorer / AlertService replicas."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
import psutil
import psycopg
import pytest

from tests.api import seed
from tests.api.conftest import JWT_SECRET, P_BUSY, P_QUIET, REDIS_PREFIX, Api
from tests.api.fakes import VERSION, expected_overall
from tests.api.seed import PASSWORD
from tests.api.servers import running_on_serve

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def serve_url(api: Api, redis_url: str, ray_cluster: object) -> Iterator[str]:
    with running_on_serve(
        api.database_url, redis_url, JWT_SECRET, pool_size=4, api={"redis_prefix": REDIS_PREFIX}, scorer_replicas=2
    ) as url:
        yield url


def _token(url: str, email: str) -> dict[str, str]:
    r = httpx.post(f"{url}/v1/auth/token", data={"username": email, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_serve_answers_health_readiness_and_docs(serve_url: str) -> None:
    with httpx.Client(base_url=serve_url, timeout=30) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz").json()
        assert ready["checks"]["scorer"]["model_ready"] is True, ready
        assert c.get("/openapi.json").json()["info"]["title"] == "ViolationSentinel API"


def test_the_ray_gateway_serves_the_web_app(serve_url: str) -> None:
    from tests.web.serving import check_served

    check_served(serve_url)


def test_http_reaches_the_gateway_through_haproxy(serve_url: str) -> None:
    """The default ingress (VS_SERVE_INGRESS=haproxy): Ray's HAProxy, not Serve's Python proxy, owns the port."""
    port = int(serve_url.rsplit(":", 1)[1])
    owners = {
        psutil.Process(c.pid).name()
        for c in psutil.net_connections("tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port and c.pid
    }
    assert owners == {"haproxy"}


def test_serve_scores_a_building_through_the_scorer_deployment(serve_url: str, api: Api) -> None:
    headers = _token(serve_url, api.emails["alpha"]["viewer"])
    with httpx.Client(base_url=serve_url, headers=headers, timeout=30) as c:
        r = c.get(f"/v1/properties/{P_QUIET}/risk")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["scores"]["overall"] == expected_overall(0)
        assert body["model_version"]["overall"] == VERSION
        batch = c.post("/v1/risk/batch", json={"bbls": [P_BUSY, P_QUIET, "5999999999"]})
        assert batch.status_code == 200, batch.text
        assert {s["bbl"] for s in batch.json()["scores"]} == {P_BUSY, P_QUIET}
        assert batch.json()["not_found"] == ["5999999999"]


def test_serve_property_page_and_request_id(serve_url: str, api: Api) -> None:
    headers = {**_token(serve_url, api.emails["beta"]["viewer"]), "X-Request-ID": "serve-req-1"}
    deadline = time.monotonic() + 10
    with httpx.Client(base_url=serve_url, headers=headers, timeout=30) as c:
        r = c.get(f"/v1/properties/{P_BUSY}")
        while r.status_code == 503 and time.monotonic() < deadline:
            r = c.get(f"/v1/properties/{P_BUSY}")
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"] == "serve-req-1"
    assert r.json()["open_violations"]["total"] >= 3


def test_killing_a_scorer_replica_under_a_steady_stream_loses_no_request(serve_url: str, api: Api) -> None:
    import ray

    bbls = [f"1{n:09d}" for n in range(900000001, 900000161)]  # unscored: every read needs the scorer
    with psycopg.connect(api.database_url) as conn:
        for n, bbl in enumerate(bbls):
            seed.add_property(conn, bbl, f"{n} REPLICA KILL STREET")
        conn.commit()
    headers = _token(serve_url, api.emails["alpha"]["viewer"])
    # Named actors come from the GCS (the state API needs the dashboard, which the test cluster does not run).
    named = ray.util.list_named_actors(all_namespaces=True)
    replicas = [a["name"] for a in named if a["namespace"] == "serve" and "RiskScorer" in a["name"]]
    assert len(replicas) == 2, replicas
    statuses: list[int] = []
    killed = threading.Event()

    def read(bbl: str) -> int:
        with httpx.Client(base_url=serve_url, headers=headers, timeout=60) as c:
            return c.get(f"/v1/properties/{bbl}/risk").status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(read, bbl) for bbl in bbls]
        for n, future in enumerate(futures):
            statuses.append(future.result())
            if n == 20:
                victim = ray.get_actor(replicas[0], namespace="serve")
                ray.kill(victim, no_restart=True)
                killed.set()
    assert killed.is_set()
    assert statuses == [200] * len(bbls), {code: statuses.count(code) for code in set(statuses)}


def test_haproxy_refuses_a_declared_oversized_body_before_a_replica_reads_it(serve_url: str) -> None:
    """Issue 16: six unauthenticated 100 MB bodies took the API from 217 MB to 1,021 MB. HAProxy answers a
    declared one itself (no request id: the app would have given one); a chunked one is cut by the replica."""
    from tests.api.test_request_limits import MB, declared_upload, raw_request

    status, _, body = raw_request(serve_url, declared_upload("/v1/auth/refresh", 100 * MB))
    assert status == 413
    error = orjson.loads(body)
    assert error["error"]["code"] == "payload_too_large" and error["request_id"] is None

    def chunks() -> Iterator[bytes]:
        for _ in range(4 * MB // (64 * 1024)):
            yield b" " * (64 * 1024)

    with httpx.Client(base_url=serve_url, timeout=30) as client:
        response = client.post("/v1/auth/refresh", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large" and response.json()["request_id"]
