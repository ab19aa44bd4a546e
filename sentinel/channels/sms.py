"""SMS through the Twilio REST API (Messages resource, form-encoded, basic auth AccountSid:AuthToken)."""

from __future__ import annotations

import json

from sentinel.channels import http
from sentinel.channels.base import (
    ChannelKind,
    DeliveryError,
    DeliveryResult,
    Notification,
    require_payload_keys,
)
from sentinel.channels.settings import TwilioSettings
from sentinel.outbound import OutboundPolicy, check_url


class TwilioSmsChannel:
    kind: ChannelKind = "sms"

    def __init__(self, settings: TwilioSettings, policy: OutboundPolicy | None = None) -> None:
        if not (settings.account_sid and settings.auth_token.get_secret_value() and settings.from_number):
            raise ValueError("Twilio SMS needs account_sid, auth_token and from_number")
        self._settings = settings
        self._client = http.new_client(policy, settings.timeout_s)
        # The scheme now (a misconfiguration should stop the notifier at start); the address at every connect.
        check_url(settings.base_url, policy or OutboundPolicy(), resolve=False)
        base = settings.base_url.rstrip("/")
        self._url = f"{base}/2010-04-01/Accounts/{settings.account_sid}/Messages.json"

    def send(self, notification: Notification) -> DeliveryResult:
        require_payload_keys(notification, "body")
        if not notification.target:
            raise DeliveryError(False, "sms notification has no phone number")
        form = {
            "To": notification.target,
            "From": self._settings.from_number,
            "Body": notification.payload["body"],
        }
        auth = (self._settings.account_sid, self._settings.auth_token.get_secret_value())
        reply = http.post(self._client, self._url, data=form, auth=auth, read_bytes=_MAX_ANSWER_BYTES)
        sid = _message_sid(reply.body)
        return DeliveryResult("sms", notification.target, provider_id=sid, status_code=reply.status_code)

    def close(self) -> None:
        self._client.close()


# A message resource is about 1 KB; what is beyond this is not Twilio's answer.
_MAX_ANSWER_BYTES = 64 * 1024


def _message_sid(body: bytes) -> str | None:
    # Twilio answers 201 with the message resource; its SID is what Twilio support asks for.
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data.get("sid") if isinstance(data, dict) else None
