"""Slack incoming webhooks: POST a Block Kit message; the webhook URL is the target (and the secret)."""

from __future__ import annotations

from sentinel.channels import http
from sentinel.channels.base import (
    ChannelKind,
    DeliveryError,
    DeliveryResult,
    Notification,
    require_payload_keys,
)
from sentinel.channels.settings import SlackSettings
from sentinel.outbound import OutboundPolicy


class SlackChannel:
    kind: ChannelKind = "slack"

    def __init__(self, settings: SlackSettings, policy: OutboundPolicy | None = None) -> None:
        self._settings = settings
        self._client = http.new_client(policy, settings.timeout_s)

    def send(self, notification: Notification) -> DeliveryResult:
        # `text` is what notifications and screen readers show when blocks cannot be rendered.
        require_payload_keys(notification, "text", "blocks")
        url = notification.target
        if not url and self._settings.default_webhook_url is not None:
            url = self._settings.default_webhook_url.get_secret_value()
        if not url:
            raise DeliveryError(False, "slack notification has no webhook URL")
        body = {"text": notification.payload["text"], "blocks": notification.payload["blocks"]}
        reply = http.post(self._client, url, json=body)
        # Incoming webhooks answer a plain "ok"; never echo the URL, it is the credential.
        return DeliveryResult("slack", "<slack webhook>", status_code=reply.status_code)

    def close(self) -> None:
        self._client.close()
