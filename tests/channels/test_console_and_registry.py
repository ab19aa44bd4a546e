from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from sentinel.channels import (
    Channel,
    ChannelSettings,
    ConsoleChannel,
    Notification,
    SmtpEmailChannel,
    WebhookChannel,
    WebhookSettings,
    build_channels,
)


def test_console_channel_logs_the_text(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="sentinel.notifications"):
        result = ConsoleChannel().send(Notification("email", "a@b.c", {"subject": "S", "text": "hello", "html": ""}))
    assert result.detail == "logged"
    assert "hello" in caplog.text


def test_by_default_every_kind_goes_to_the_console() -> None:
    channels = build_channels(ChannelSettings())
    assert {type(channel) for channel in channels.values()} == {ConsoleChannel}
    assert all(isinstance(channel, Channel) for channel in channels.values())


def test_enabled_kinds_get_their_real_channel() -> None:
    settings = ChannelSettings(
        enabled=frozenset({"email", "webhook"}),
        webhook=WebhookSettings(signing_secret=SecretStr("s")),
    )
    channels = build_channels(settings)
    assert isinstance(channels["email"], SmtpEmailChannel)
    assert isinstance(channels["webhook"], WebhookChannel)
    assert isinstance(channels["sms"], ConsoleChannel)


def test_unknown_kind_and_unsigned_webhooks_are_refused_at_start() -> None:
    with pytest.raises(ValueError, match="unknown"):
        build_channels(ChannelSettings(enabled=frozenset({"pager"})))
    with pytest.raises(ValueError, match="secret"):
        build_channels(ChannelSettings(enabled=frozenset({"webhook"})))
