"""Notification channels: email (SMTP), Slack, SMS (Twilio), signed webhooks and the console.

Every channel has `send(notification) -> DeliveryResult` and raises `DeliveryError(retryable, message)`.
"""

from sentinel.channels.base import (
    Channel,
    ChannelKind,
    DeliveryError,
    DeliveryResult,
    Notification,
    is_retryable_status,
)
from sentinel.channels.console import ConsoleChannel
from sentinel.channels.registry import build_channels
from sentinel.channels.settings import (
    ChannelSettings,
    SlackSettings,
    SmtpSettings,
    TwilioSettings,
    WebhookSettings,
)
from sentinel.channels.signing import SIGNATURE_HEADER, SignatureError, sign, verify_signature
from sentinel.channels.slack import SlackChannel
from sentinel.channels.sms import TwilioSmsChannel
from sentinel.channels.smtp import SmtpEmailChannel
from sentinel.channels.webhook import WebhookChannel

__all__ = [
    "SIGNATURE_HEADER",
    "Channel",
    "ChannelKind",
    "ChannelSettings",
    "ConsoleChannel",
    "DeliveryError",
    "DeliveryResult",
    "Notification",
    "SignatureError",
    "SlackChannel",
    "SlackSettings",
    "SmtpEmailChannel",
    "SmtpSettings",
    "TwilioSettings",
    "TwilioSmsChannel",
    "WebhookChannel",
    "WebhookSettings",
    "build_channels",
    "is_retryable_status",
    "sign",
    "verify_signature",
]
