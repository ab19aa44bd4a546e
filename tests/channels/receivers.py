"""Real local receivers for channel tests: an HTTP server and an SMTP server on 127.0.0.1, ephemeral ports."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sentinel.mailbox import EphemeralPortController  # noqa: F401 -- re-exported for the tests that import it here
from sentinel.outbound import OutboundPolicy

# The receivers below listen on 127.0.0.1 over plain http, which the default policy refuses: tests allow it.
LOCAL_RECEIVERS = OutboundPolicy(allow=("127.0.0.1",), allow_http=True)


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpReceiver:
    """Records every request; answers with the queued (status, body) responses, then 200 "ok"."""

    server: ThreadingHTTPServer
    requests: list[ReceivedRequest] = field(default_factory=list)
    responses: list[tuple[int, bytes, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Requests from number `hold_from` (0-based) on are recorded, then left unanswered until `release` is set:
    # a sender caught mid-request.
    hold_from: int | None = None
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def respond(self, status: int, body: bytes = b"") -> None:
        self.respond_with_headers(status, {}, body)

    def respond_with_headers(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        with self.lock:
            self.responses.append((status, body, headers))

    def next_response(self) -> tuple[int, bytes, dict[str, str]]:
        with self.lock:
            return self.responses.pop(0) if self.responses else (200, b"ok", {})


def start_http_receiver() -> HttpReceiver:
    receiver: HttpReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                held = receiver.hold_from is not None and len(receiver.requests) >= receiver.hold_from
                receiver.requests.append(
                    ReceivedRequest("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
            if held:
                receiver.release.wait(timeout=120)
            status, payload, headers = receiver.next_response()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = HttpReceiver(server)
    # A short poll interval keeps shutdown() (and so every test's teardown) fast.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return receiver


@dataclass
class SmtpRecorder:
    envelopes: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def wait_for(predicate: Any, timeout_s: float = 5.0) -> None:
    """Poll until `predicate()` is true: delivery is synchronous, but servers record from their own thread."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.01)
