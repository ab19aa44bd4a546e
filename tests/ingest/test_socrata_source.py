"""SocrataSource over real HTTP: a body cut short or refused is retried, gzip is decoded, a 400 is not retried."""

from __future__ import annotations

import gzip
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import orjson
import pytest

from sentinel.ingest.socrata import SchemaDriftError, SocrataSource, SourceUnavailableError

PAGE = [{":id": f"row-{n}", "violationid": str(n), "novdescription": "x" * 200} for n in range(50)]


class Script(BaseHTTPRequestHandler):
    """Answers each request with the next scripted response: (status, body, how)."""

    responses: ClassVar[list[tuple[int, bytes, str]]] = []
    seen: ClassVar[int] = 0

    def do_GET(self) -> None:
        status, body, how = Script.responses[min(Script.seen, len(Script.responses) - 1)]
        Script.seen += 1
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if how == "gzip":
            body = gzip.compress(body)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if how == "cut":  # promise the whole body, send a tenth of it, hang up
            self.wfile.write(body[: len(body) // 10])
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Script.responses, Script.seen = [], 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Script)
    # A short poll interval keeps shutdown(), and so every test's teardown, fast.
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def page(url: str, **kwargs) -> tuple[SocrataSource, bytes]:
    source = SocrataSource(url, attempts=3, max_backoff_s=0.05, **kwargs)
    return source, source.page_body("wvxf-dwi5", where=None, cursor=None, incremental=False, limit=50)


def test_a_body_cut_short_is_fetched_again(server):
    body = orjson.dumps(PAGE)
    Script.responses = [(200, body, "cut"), (200, body, "whole")]
    source, got = page(server)
    assert orjson.loads(got) == PAGE
    assert (Script.seen, source.retries) == (2, 1)


def test_a_gzipped_body_is_decoded(server):
    Script.responses = [(200, orjson.dumps(PAGE), "gzip")]
    _, got = page(server)
    assert orjson.loads(got) == PAGE


def test_a_body_cut_short_every_time_fails_the_fetch_after_its_attempts(server):
    Script.responses = [(200, orjson.dumps(PAGE), "cut")]
    with pytest.raises(SourceUnavailableError, match="wvxf-dwi5"):
        page(server)
    assert Script.seen == 3


def test_a_400_is_schema_drift_and_is_not_retried(server):
    error = {"errorCode": "query.soql.no-such-column", "message": "No such column: boroid"}
    Script.responses = [(400, orjson.dumps(error), "whole")]
    with pytest.raises(SchemaDriftError, match="No such column: boroid"):
        page(server)
    assert Script.seen == 1


def test_no_app_token_warning_against_the_local_replay_server_but_against_nyc(caplog):
    with caplog.at_level(logging.WARNING):
        SocrataSource("http://127.0.0.1:8088")
    assert not [r for r in caplog.records if "app_token" in r.getMessage()]
    with caplog.at_level(logging.WARNING):
        SocrataSource("https://data.cityofnewyork.us")
    assert [r for r in caplog.records if "app_token" in r.getMessage()]
