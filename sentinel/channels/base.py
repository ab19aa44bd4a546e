"""What every notification channel shares: the message it is handed, what it returns, how it fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

ChannelKind = Literal["email", "sms", "slack", "webhook", "console"]


@dataclass(frozen=True, slots=True)
class Notification:
    """One row of the `notifications` outbox, already rendered for its channel.

    `payload` is the channel's own shape (see sentinel.alerts.render): email {subject, text, html},
    slack {text, blocks}, sms {body}, webhook {the JSON event}, console {text}. `target` is the address:
    an email address, a phone number, a webhook URL (empty means the channel's configured default).
    """

    channel: ChannelKind
    target: str
    payload: dict[str, Any]
    id: int | None = None
    alert_id: int | None = None
    org_id: int | None = None


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    channel: ChannelKind
    target: str
    provider_id: str | None = None  # SMTP Message-ID, Twilio SID, ...: what support asks for
    status_code: int | None = None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class DeliveryError(Exception):
    """A send that failed. The outbox retries a `retryable` one with backoff and marks the rest dead."""

    def __init__(self, retryable: bool, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.message = message
        self.status_code = status_code

    def __repr__(self) -> str:
        return f"DeliveryError(retryable={self.retryable}, message={self.message!r})"


@runtime_checkable
class Channel(Protocol):
    kind: ChannelKind

    def send(self, notification: Notification) -> DeliveryResult: ...


def is_retryable_status(status_code: int) -> bool:
    """4xx means the request is wrong and will stay wrong, except a timeout (408) or a rate limit (429)."""
    if status_code in (408, 429):
        return True
    return status_code >= 500


def require_payload_keys(notification: Notification, *keys: str) -> None:
    missing = [key for key in keys if key not in notification.payload]
    if missing:
        # A malformed payload will be just as malformed on the next attempt.
        raise DeliveryError(False, f"{notification.channel} payload lacks {', '.join(missing)}")
