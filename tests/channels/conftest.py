from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.receivers import EphemeralPortController, HttpReceiver, SmtpRecorder, start_http_receiver


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = start_http_receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def smtp_server() -> Iterator[tuple[EphemeralPortController, SmtpRecorder]]:
    recorder = SmtpRecorder()
    controller = EphemeralPortController(recorder)
    controller.start()
    yield controller, recorder
    controller.stop()
