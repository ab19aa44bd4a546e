"""Fault injection and app tokens: the server answers the statuses an ingester must survive."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import requests

from citysim.replay.faults import FaultConfig
from citysim.replay.server import ReplayServer, serve_in_background
from tests.replay.conftest import ADMIN_TOKEN

HPD = "wvxf-dwi5"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / f"{HPD}.json").write_text('[\n{"violationid": "1"},\n{"violationid": "2"}\n]\n')
    return tmp_path


def statuses(server: ReplayServer, n: int, **headers: str) -> Counter[int]:
    session = requests.Session()
    return Counter(
        session.get(f"{server.url}/resource/{HPD}.json", headers=headers, timeout=10).status_code for _ in range(n)
    )


def test_configured_fault_shares_are_served(data_dir: Path) -> None:
    faults = FaultConfig.parse("429=0.3,503=0.2,202=0.1,seed=7")
    with serve_in_background(data_dir, faults=faults) as server:
        counts = statuses(server, 400)
        r = requests.get(f"{server.url}/resource/{HPD}.json", timeout=10)
    assert set(counts) == {200, 202, 429, 503}
    # 400 draws at these rates: each share within a generous binomial band.
    assert 85 <= counts[429] <= 155 and 50 <= counts[503] <= 110 and 20 <= counts[202] <= 65
    assert r.headers["Content-Type"].startswith("application/json")


def test_same_seed_same_sequence(data_dir: Path) -> None:
    runs = []
    for _ in range(2):
        with serve_in_background(data_dir, faults=FaultConfig.parse("429=0.5,seed=3")) as server:
            session = requests.Session()
            url = f"{server.url}/resource/{HPD}.json"
            runs.append([session.get(url, timeout=10).status_code for _ in range(30)])
    assert runs[0] == runs[1] and 429 in runs[0] and 200 in runs[0]


def test_faults_scoped_to_a_path_leave_the_other_endpoints_answering(data_dir: Path) -> None:
    with serve_in_background(data_dir, faults=FaultConfig.parse("503=1,path=/api/views/")) as server:
        metadata = requests.get(f"{server.url}/api/views/{HPD}.json", timeout=10)
        assert statuses(server, 10) == Counter({200: 10})
    assert metadata.status_code == 503


def test_admin_api_switches_faults_on_and_off(data_dir: Path) -> None:
    with serve_in_background(data_dir, admin_token=ADMIN_TOKEN) as server:
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert statuses(server, 20) == Counter({200: 20})
        r = requests.put(f"{server.url}/admin/faults", json={"503": 1.0}, headers=auth, timeout=10)
        assert r.status_code == 200 and r.json()["rates"] == {"503": 1.0}
        assert statuses(server, 10) == Counter({503: 10})
        requests.put(f"{server.url}/admin/faults", json={}, headers=auth, timeout=10)
        assert statuses(server, 10) == Counter({200: 10})


def test_latency_is_added(data_dir: Path) -> None:
    with serve_in_background(data_dir, faults=FaultConfig(latency_ms=150)) as server:
        r = requests.get(f"{server.url}/resource/{HPD}.json", timeout=10)
    assert r.status_code == 200 and r.elapsed.total_seconds() >= 0.15


def test_required_app_token(data_dir: Path) -> None:
    with serve_in_background(data_dir, app_token="tok") as server:
        url = f"{server.url}/resource/{HPD}.json"
        missing = requests.get(url, timeout=10)
        wrong = requests.get(url, headers={"X-App-Token": "nope"}, timeout=10)
        # sodapy sends the header as "X-App-token"; HTTP headers are case-insensitive.
        right = requests.get(url, headers={"X-App-token": "tok"}, timeout=10)
        by_param = requests.get(url, params={"$$app_token": "tok"}, timeout=10)
    assert missing.status_code == 401 and missing.json()["code"] == "authentication_required"
    assert wrong.status_code == 403 and wrong.json()["code"] == "invalid_app_token"
    assert right.status_code == 200 and by_param.status_code == 200


def test_bad_fault_spec_is_rejected() -> None:
    with pytest.raises(ValueError, match="sum"):
        FaultConfig.parse("429=0.8,503=0.5")
    with pytest.raises(ValueError, match="unsupported"):
        FaultConfig.parse("500=0.1")
