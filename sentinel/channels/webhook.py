"""Generic signed webhooks: POST the alert event as JSON with an HMAC signature header."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx

from sentinel.channels import http
from sentinel.channels.base import ChannelKind, DeliveryError, DeliveryResult, Notification
from sentinel.channels.settings import WebhookSettings
from sentinel.channels.signing import SIGNATURE_HEADER, sign


class WebhookChannel:
    kind: ChannelKind = "webhook"

    def __init__(
        self,
        settings: WebhookSettings,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not settings.signing_secret.get_secret_value():
            raise ValueError("webhook channel needs a signing secret")
        self._settings = settings
        self._client = http.new_client(settings.timeout_s, client)
        self._clock = clock

    def send(self, notification: Notification) -> DeliveryResult:
        url = notification.target or self._settings.default_url
        if not url:
            raise DeliveryError(False, "webhook notification has no URL")
        # Serialize once: the receiver verifies the exact bytes we signed.
        body = json.dumps(notification.payload, separators=(",", ":"), sort_keys=True, default=str).encode()
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self._settings.user_agent,
            SIGNATURE_HEADER: sign(self._settings.signing_secret.get_secret_value(), body, timestamp),
        }
        event_id = notification.payload.get("id")
        if event_id is not None:
            # Lets receivers drop our retries of a delivery they already processed.
            headers["X-Sentinel-Event-Id"] = str(event_id)
        response = http.post(self._client, url, content=body, headers=headers)
        return DeliveryResult("webhook", url, status_code=response.status_code)

    def close(self) -> None:
        self._client.close()
