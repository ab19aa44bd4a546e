"""The replay server never answers a request smuggled inside another's unread body (issue 16, item 6).

A request it rejects before reading the body (an admin call without the token, a body on a read) used to leave
that body on the connection, where the keep-alive loop parsed it as the next request and answered it too.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator

import pytest
import requests

from citysim.replay.server import ReplayServer, serve_in_background

SMUGGLED = b"GET /health HTTP/1.1\r\nHost: replay\r\n\r\n"


@pytest.fixture(scope="module")
def server(realdata_sources: dict) -> Iterator[ReplayServer]:
    """One server for the module: every test opens its own connection and none changes the data."""
    with serve_in_background(sources=realdata_sources, admin_token="x" * 40) as running:
        yield running


def exchange(server: ReplayServer, request: bytes) -> bytes:
    """Sends `request` then reads until the server closes the connection (or goes quiet for 3 s)."""
    with socket.create_connection((server.host, server.port), timeout=3) as sock:
        sock.sendall(request)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            pass  # still open: the server waits for a further request
    return received


def _statuses(received: bytes) -> list[int]:
    return [int(status) for status in re.findall(rb"HTTP/1\.[01] (\d{3}) ", received)]


def test_a_rejected_admin_call_closes_the_connection_instead_of_reading_its_body_as_a_request(server) -> None:
    head = f"POST /admin/changes HTTP/1.1\r\nHost: replay\r\nContent-Length: {len(SMUGGLED)}\r\n\r\n".encode()
    received = exchange(server, head + SMUGGLED)
    assert _statuses(received) == [401]
    assert b"connection: close" in received.lower()


def test_a_body_on_a_read_is_never_taken_for_the_next_request(server) -> None:
    head = f"GET /health HTTP/1.1\r\nHost: replay\r\nContent-Length: {len(SMUGGLED)}\r\n\r\n".encode()
    assert _statuses(exchange(server, head + SMUGGLED)) == [200]


@pytest.mark.parametrize(
    "framing",
    [b"Transfer-Encoding: chunked\r\n", b"Content-Length: 5\r\nContent-Length: 40\r\n", b"Content-Length: -3\r\n"],
)
def test_ambiguous_body_framing_is_refused_and_the_connection_closed(server, framing: bytes) -> None:
    body = b"%x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0\r\n\r\n"
    received = exchange(server, b"POST /admin/faults HTTP/1.1\r\nHost: replay\r\n" + framing + b"\r\n" + body)
    assert _statuses(received) in ([400], [411]), received


def test_keep_alive_still_serves_several_requests_on_one_connection(server) -> None:
    one = b"GET /health HTTP/1.1\r\nHost: replay\r\n\r\n"
    last = b"GET /health HTTP/1.1\r\nHost: replay\r\nConnection: close\r\n\r\n"  # else the read waits out the timeout
    assert _statuses(exchange(server, one * 2 + last)) == [200, 200, 200]


def test_a_client_connection_leaves_no_store_connection_open_once_it_ends(server: ReplayServer) -> None:
    """The store opens SQLite connections per server thread (one thread per client connection): they close with the
    thread, or a long run's new clients (every ingestion run's actors) pile up page caches in the server."""
    opened_elsewhere = len(server.store._connections)  # the threads that built the store
    for _ in range(30):
        with requests.Session() as session:
            session.get(f"{server.url}/resource/wvxf-dwi5.json", params={"$limit": "1"}).raise_for_status()
    # Counted in this order, every connection left must belong to a thread still running (at most two each).
    alive = sum(t.is_alive() for t in threading.enumerate() if "process_request_thread" in t.name)
    assert len(server.store._connections) <= opened_elsewhere + 2 * alive
