"""A local mailbox: an SMTP server on 127.0.0.1 (aiosmtpd) that files every message it receives as an `.eml`
file, so the demo's email notifications land somewhere a person can open (any mail client reads .eml;
`vsentinel mailbox` lists and prints them). Nothing leaves the machine.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import logging
import socket
import threading
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class EphemeralPortController(Controller):
    """aiosmtpd's Controller probes `self.port` to know the server is up, so port 0 cannot work as is:
    bind the socket first, take its port, and hand the bound socket to the event loop."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        super().__init__(handler, hostname="127.0.0.1", port=self._sock.getsockname()[1], **kwargs)

    def _create_server(self) -> Awaitable[Any]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


class _FileDrop:
    """aiosmtpd handler: each message's bytes, as received, into DIR/<UTC time>-<n>.eml (written to a temp name
    and renamed, so a reader never sees half a message)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 -- aiosmtpd's hook
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            name = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}-{next(self._counter):04d}"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.replace(self.directory / f"{name}.eml")
        return "250 Message accepted for delivery"


@dataclass
class LocalMailbox:
    directory: Path
    port: int
    _controller: EphemeralPortController

    def stop(self) -> None:
        self._controller.stop()


def start_mailbox(directory: Path) -> LocalMailbox:
    """An SMTP server on an ephemeral loopback port filing messages under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection at INFO
    controller = EphemeralPortController(_FileDrop(directory))
    controller.start()
    return LocalMailbox(directory, controller.port, controller)


@dataclass(frozen=True)
class Message:
    path: Path
    received: datetime
    sender: str
    to: str
    subject: str

    def body(self) -> str:
        message = email.message_from_bytes(self.path.read_bytes(), policy=email.policy.default)
        part = message.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
        return part.get_content() if part is not None else ""


def messages(directory: Path) -> Iterator[Message]:
    """The mailbox's messages, oldest first."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.eml")):
        with path.open("rb") as fh:
            headers = email.message_from_binary_file(fh, policy=email.policy.default)
        received = datetime.strptime(path.stem.split("-")[0], "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
        yield Message(
            path, received, str(headers["From"] or ""), str(headers["To"] or ""), str(headers["Subject"] or "")
        )
