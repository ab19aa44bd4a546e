"""Generic signed webhooks: POST the alert event as JSON with an HMAC signature header.

Each organization signs with its own secret (sentinel.channels.org_secrets, rotated through the API); while a
rotation's grace period runs, the header carries a signature with the new and one with the previous secret.
The global `VS_WEBHOOK_SECRET` signs only for an organization that has no secret of its own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Protocol

from sentinel.channels import http
from sentinel.channels.base import ChannelKind, DeliveryError, DeliveryResult, Notification
from sentinel.channels.settings import WebhookSettings
from sentinel.channels.signing import SIGNATURE_HEADER, sign_all
from sentinel.outbound import OutboundPolicy


class SigningSecrets(Protocol):
    def for_org(self, org_id: int) -> list[str]:
        """The organization's signing secrets, newest first; empty when it has none."""
        ...


class WebhookChannel:
    kind: ChannelKind = "webhook"

    def __init__(
        self,
        settings: WebhookSettings,
        policy: OutboundPolicy | None = None,
        clock: Callable[[], float] = time.time,
        secrets: SigningSecrets | None = None,
    ) -> None:
        if not settings.signing_secret.get_secret_value() and secrets is None:
            raise ValueError("webhook channel needs a signing secret (VS_WEBHOOK_SECRET or per-organization secrets)")
        self._settings = settings
        self._client = http.new_client(policy, settings.timeout_s)
        self._clock = clock
        self._secrets = secrets

    def _signing_secrets(self, org_id: int | None) -> list[str]:
        if org_id is not None and self._secrets is not None:
            own = self._secrets.for_org(org_id)
            if own:
                return own
        fallback = self._settings.signing_secret.get_secret_value()
        if not fallback:
            raise DeliveryError(False, f"organization {org_id} has no webhook signing secret and none is global")
        return [fallback]

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
            SIGNATURE_HEADER: sign_all(self._signing_secrets(notification.org_id), body, timestamp),
        }
        event_id = notification.payload.get("id")
        if event_id is not None:
            # Lets receivers drop our retries of a delivery they already processed.
            headers["X-Sentinel-Event-Id"] = str(event_id)
        reply = http.post(self._client, url, content=body, headers=headers)
        return DeliveryResult("webhook", url, status_code=reply.status_code)

    def close(self) -> None:
        self._client.close()
