"""The replay server: SODA 2.1 endpoints over a ReplayStore, on a threaded stdlib HTTP server.

A threaded stdlib server rather than an ASGI stack: each request is one blocking SQLite query plus a large
body write, so an event loop buys nothing, and threads let a test start and stop the server in-process.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson

from citysim.replay.changes import apply_changes, apply_changes_file
from citysim.replay.dataset_stores import AnyStore
from citysim.replay.errors import SodaError, dataset_missing, resource_error
from citysim.replay.faults import FAULT_BODIES, FaultConfig, FaultInjector
from citysim.replay.metadata import view_metadata
from citysim.replay.query import JSON_TYPE, run_query
from citysim.replay.soql import ensure_soda_error
from citysim.replay.store import open_store

log = logging.getLogger(__name__)
_ERROR_TYPE = "application/json; charset=utf-8"


class ReplayServer:
    """Serves a ReplayStore (or DatasetStores) over HTTP: `start()` in a background thread, `serve_forever()` here."""

    def __init__(
        self,
        store: AnyStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        app_token: str | None = None,
        admin_token: str | None = None,
        faults: FaultConfig | None = None,
    ):
        self.store = store
        self.app_token = app_token
        self.admin_token = admin_token
        self.faults = FaultInjector(faults)
        self.request_count = 0
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.replay = self
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def domain(self) -> str:
        """What sodapy's Socrata() takes as its domain (with session_adapter prefix http://)."""
        return f"{self.host}:{self.port}"

    def start(self) -> ReplayServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="replay-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.store.close()

    def apply_changes(self, changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return apply_changes(self.store, changes)

    def apply_changes_file(self, path: Path) -> dict[str, dict[str, Any]]:
        return apply_changes_file(self.store, path)

    def set_faults(self, config: FaultConfig) -> None:
        self.faults.configure(config)


@contextlib.contextmanager
def serve_in_background(
    data_dir: str | Path | None = None,
    *,
    sources: Mapping[str, Sequence[Path]] | None = None,
    cache: bool = False,
    **options: Any,
) -> Iterator[ReplayServer]:
    """Start a replay server on an ephemeral port (unless `port=` is given) and stop it on exit.

    `sources` maps dataset ids to files when they do not follow the `DIR/<id>.json|csv` layout."""
    store = open_store(Path(data_dir) if data_dir else None, sources=sources, cache=cache)
    server = ReplayServer(store, **options).start()
    try:
        yield server
    finally:
        server.stop()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    replay: ReplayServer

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        # One thread per client connection, and the store opens SQLite connections per thread: without this they
        # stayed open, each with its page cache, for as long as the server ran (benchmarks/RESULTS.md, "NYC at
        # full size": the driver's memory grew with every ingestion run's new clients).
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.replay.store.close_thread_connections()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: sodapy pages over one requests.Session
    # Headers and body go out in separate writes; with Nagle on, each small response waits ~40 ms for a delayed ACK.
    disable_nagle_algorithm = True
    server: _HTTPServer
    _body_pending = False

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        replay = self.server.replay
        replay.request_count += 1
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        params = parse_qsl(parts.query, keep_blank_values=True)
        self._body_pending = False
        try:
            self._body_pending = self._declared_body() > 0
            if path.startswith("/admin/"):
                self._admin(method, path)
            elif path == "/health":
                self._send(200, b'{"status":"ok"}', JSON_TYPE, method=method)
            elif path.startswith(("/resource/", "/api/views/")) and method in ("GET", "HEAD"):
                self._check_app_token(params)
                if self._inject_fault(method, path):
                    return
                if path.startswith("/resource/"):
                    self._resource(path, params, method)
                else:
                    self._views(path, method)
            else:
                raise resource_error(404, "not_found", "Not found", {"path": path})
        except SodaError as err:
            self._send_error(err, method)
        except Exception as exc:  # a bug must answer 500 with a body, not drop the connection
            log.exception("replay server error on %s", self.path)
            self._send_error(resource_error(500, "internal_error", f"Internal error: {exc}"), method)

    # --- routes ---

    def _resource(self, path: str, params: list[tuple[str, str]], method: str) -> None:
        name = path[len("/resource/") :]
        dataset_id, _, ext = name.rpartition(".")
        if ext not in ("json", "csv") or "/" in dataset_id:
            raise dataset_missing(dataset_id or name)
        store = self.server.replay.store
        try:
            result = run_query(store, dataset_id, params, ext)
        except SodaError:
            raise
        except ValueError as exc:
            raise ensure_soda_error(exc) from exc
        last = store.rows_updated_at(dataset_id)
        headers = {
            "X-SODA2-Fields": orjson.dumps(result.fields).decode(),
            "X-SODA2-Types": orjson.dumps(result.types).decode(),
            "X-SODA2-Data-Out-Of-Date": "false",
        }
        if last:
            http_date = format_datetime(datetime.strptime(last, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC), True)
            headers["X-SODA2-Truth-Last-Modified"] = http_date
            headers["Last-Modified"] = http_date
        if len(headers["X-SODA2-Fields"]) + len(headers["X-SODA2-Types"]) > 4000:
            # Socrata drops these for very wide results (4 KB header limit).
            del headers["X-SODA2-Fields"], headers["X-SODA2-Types"]
        self._send(200, result.chunks, result.content_type, headers, method=method)

    def _views(self, path: str, method: str) -> None:
        name = path[len("/api/views/") :]
        dataset_id = name.removesuffix(".json")
        store = self.server.replay.store
        if not name.endswith(".json") or dataset_id not in store.tables:
            err = resource_error(404, "not_found", "Not found", {"id": dataset_id})
            err.headers.update({"X-Error-Code": "not_found", "X-Error-Message": "Not found"})
            raise err
        body = orjson.dumps(view_metadata(store, dataset_id))
        self._send(200, body, JSON_TYPE, method=method)

    def _admin(self, method: str, path: str) -> None:
        replay = self.server.replay
        if not replay.admin_token:
            raise resource_error(403, "admin_disabled", "The admin API is disabled (no admin token configured)")
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not hmac.compare_digest(auth[7:].encode(), replay.admin_token.encode()):
            err = resource_error(401, "authentication_required", "Bearer token required")
            err.headers["WWW-Authenticate"] = 'Bearer realm="replay-admin"'
            raise err
        body = self._read_body() if method in ("POST", "PUT") else None
        if path == "/admin/faults":
            if body is not None:
                replay.set_faults(FaultConfig.from_json(orjson.loads(body)))
            self._send(200, orjson.dumps(replay.faults.config.to_json()), JSON_TYPE)
        elif path == "/admin/changes" and body is not None:
            try:
                summary = replay.apply_changes(orjson.loads(body))
            except ValueError as exc:
                raise resource_error(400, "invalid_changes", str(exc)) from exc
            self._send(200, orjson.dumps({"applied": summary}), JSON_TYPE)
        else:
            raise resource_error(404, "not_found", "Not found", {"path": path})

    # --- cross-cutting -------------------------------------------------------------------------------------

    def _check_app_token(self, params: list[tuple[str, str]]) -> None:
        required = self.server.replay.app_token
        if not required:
            return
        token = self.headers.get("X-App-Token") or dict(params).get("$$app_token")
        if not token:
            raise resource_error(401, "authentication_required", "An app token is required")
        if not hmac.compare_digest(token.encode(), required.encode()):
            raise resource_error(403, "invalid_app_token", "Invalid app_token specified")

    def _inject_fault(self, method: str, path: str) -> bool:
        injector = self.server.replay.faults
        latency = injector.config.latency_ms
        if latency:
            time.sleep(latency / 1000)  # simulated network/backend latency, not synchronization
        status = injector.draw(path)
        if status is None:
            return False
        headers = {"Retry-After": "1"} if status in (429, 503) else {}
        self._send(status, orjson.dumps(FAULT_BODIES[status]), _ERROR_TYPE, headers, method=method)
        return True

    def _declared_body(self) -> int:
        """The body's length. Framing this server cannot read unambiguously (chunked, several or bad lengths) is
        refused, and the connection closed: whatever follows on it could be a smuggled request."""
        if self.headers.get("Transfer-Encoding") is not None:
            self.close_connection = True
            raise resource_error(411, "length_required", "send the body with a Content-Length, not chunked")
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return 0
        if len(lengths) > 1 or not lengths[0].strip().isdigit():
            self.close_connection = True
            raise resource_error(400, "bad_content_length", "one Content-Length with a non-negative integer")
        return int(lengths[0])

    def _read_body(self) -> bytes:
        length = self._declared_body()
        self._body_pending = False
        return self.rfile.read(length) if length else b"{}"

    def _send_error(self, err: SodaError, method: str) -> None:
        ctype = JSON_TYPE if err.status == 400 else _ERROR_TYPE
        self._send(err.status, orjson.dumps(err.body), ctype, err.headers, method=method)

    def _send(
        self,
        status: int,
        body: bytes | list[bytes],
        content_type: str,
        headers: dict[str, str] | None = None,
        *,
        method: str = "GET",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        chunks = [body] if isinstance(body, bytes) else body
        self.send_header("Content-Length", str(sum(len(c) for c in chunks)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("X-Socrata-RequestId", uuid.uuid4().hex[:24])
        if self._body_pending or self.close_connection:
            # The body was never read (the request was refused first): what follows on this connection is that
            # body, not a request, so the connection ends here.
            self.send_header("Connection", "close")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if method != "HEAD":
            for chunk in chunks:
                self.wfile.write(chunk)
