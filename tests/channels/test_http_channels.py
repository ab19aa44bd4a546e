from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

import pytest
from pydantic import SecretStr

from sentinel.channels import (
    SIGNATURE_HEADER,
    DeliveryError,
    Notification,
    SignatureError,
    SlackChannel,
    SlackSettings,
    TwilioSettings,
    TwilioSmsChannel,
    WebhookChannel,
    WebhookSettings,
    verify_signature,
)
from tests.channels.receivers import LOCAL_RECEIVERS, HttpReceiver, start_http_receiver

SLACK_PAYLOAD = {
    "text": "New HPD Class C violation at 123 Main St",
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "Class C"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*No heat*"}},
    ],
}
EVENT = {"type": "alert.created", "id": "alert_7", "bbl": "1000010001", "rule": {"id": 3, "name": "Class C"}}
SECRET = "whsec_test"


def slack(receiver: HttpReceiver) -> SlackChannel:
    return SlackChannel(SlackSettings(timeout_s=2), LOCAL_RECEIVERS)


def twilio(receiver: HttpReceiver) -> TwilioSmsChannel:
    return TwilioSmsChannel(
        TwilioSettings(
            account_sid="AC123",
            auth_token=SecretStr("tok"),
            from_number="+15550001111",
            base_url=receiver.url,
            timeout_s=2,
        ),
        LOCAL_RECEIVERS,
    )


def webhook(now: float = 1_700_000_000.0) -> WebhookChannel:
    return WebhookChannel(
        WebhookSettings(signing_secret=SecretStr(SECRET), timeout_s=2), LOCAL_RECEIVERS, clock=lambda: now
    )


def test_slack_posts_block_kit_json_with_fallback_text(receiver: HttpReceiver) -> None:
    result = slack(receiver).send(Notification("slack", f"{receiver.url}/services/T/B/x", SLACK_PAYLOAD))

    assert result.status_code == 200
    (request,) = receiver.requests
    assert request.path == "/services/T/B/x"
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.body)
    assert body["text"] == SLACK_PAYLOAD["text"]
    assert [block["type"] for block in body["blocks"]] == ["header", "section"]


def test_slack_error_never_leaks_the_webhook_url(receiver: HttpReceiver) -> None:
    receiver.respond(404, b"no_service")
    with pytest.raises(DeliveryError) as info:
        slack(receiver).send(Notification("slack", f"{receiver.url}/services/SECRET", SLACK_PAYLOAD))
    assert not info.value.retryable
    assert "SECRET" not in str(info.value)


def test_twilio_sms_posts_form_with_basic_auth_to_the_messages_resource(receiver: HttpReceiver) -> None:
    receiver.respond(201, json.dumps({"sid": "SM42", "status": "queued"}).encode())

    result = twilio(receiver).send(Notification("sms", "+15552223333", {"body": "Class C at 123 Main St"}))

    assert result.provider_id == "SM42"
    (request,) = receiver.requests
    assert request.path == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"AC123:tok").decode()
    form = parse_qs(request.body.decode())
    assert form == {"To": ["+15552223333"], "From": ["+15550001111"], "Body": ["Class C at 123 Main St"]}


def test_webhook_signature_verifies_with_the_receivers_function(receiver: HttpReceiver) -> None:
    now = 1_700_000_000.0
    webhook(now).send(Notification("webhook", f"{receiver.url}/hook", EVENT))

    (request,) = receiver.requests
    header = request.headers[SIGNATURE_HEADER.lower()]
    assert header.startswith(f"t={int(now)},v1=")
    assert verify_signature(SECRET, header, request.body, tolerance_s=300, now=now + 5) == int(now)
    assert json.loads(request.body) == EVENT
    assert request.headers["x-sentinel-event-id"] == "alert_7"


def test_webhook_receiver_rejects_a_replay_with_an_old_timestamp(receiver: HttpReceiver) -> None:
    sent_at = 1_700_000_000.0
    webhook(sent_at).send(Notification("webhook", f"{receiver.url}/hook", EVENT))
    (request,) = receiver.requests

    with pytest.raises(SignatureError, match="tolerance"):
        verify_signature(SECRET, request.headers[SIGNATURE_HEADER.lower()], request.body, 300, now=sent_at + 301)


def test_webhook_receiver_rejects_a_tampered_body_and_a_wrong_secret(receiver: HttpReceiver) -> None:
    now = 1_700_000_000.0
    webhook(now).send(Notification("webhook", f"{receiver.url}/hook", EVENT))
    (request,) = receiver.requests
    header = request.headers[SIGNATURE_HEADER.lower()]
    tampered = request.body.replace(b"1000010001", b"1000010002")

    with pytest.raises(SignatureError, match="no signature"):
        verify_signature(SECRET, header, tampered, 300, now=now)
    with pytest.raises(SignatureError, match="no signature"):
        verify_signature("other-secret", header, request.body, 300, now=now)


@pytest.mark.parametrize(
    "header",
    [None, "", "v1=abc", "t=notanumber,v1=abc", "t=1700000000"],
)
def test_malformed_signature_headers_are_rejected(header: str | None) -> None:
    with pytest.raises(SignatureError):
        verify_signature(SECRET, header, b"{}", 300, now=1_700_000_000)


def test_a_rotated_secret_can_be_accepted_alongside_the_old_one() -> None:
    from sentinel.channels import sign

    old = sign("old", b"{}", 1_700_000_000)
    new = sign("new", b"{}", 1_700_000_000)
    header = f"{new},v1={old.split('v1=')[1]}"
    assert verify_signature("old", header, b"{}", 300, now=1_700_000_000) == 1_700_000_000


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (410, False),
        (408, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
    ],
)
def test_http_errors_are_classified_by_status(receiver: HttpReceiver, status: int, retryable: bool) -> None:
    receiver.respond(status, b"nope")
    with pytest.raises(DeliveryError) as info:
        webhook().send(Notification("webhook", f"{receiver.url}/hook", EVENT))
    assert info.value.retryable is retryable
    assert info.value.status_code == status


def test_a_refused_connection_is_retryable() -> None:
    dead = start_http_receiver()
    url = dead.url
    dead.server.shutdown()
    dead.server.server_close()  # the port is now closed: connect fails
    with pytest.raises(DeliveryError) as info:
        twilio_at(url).send(Notification("sms", "+15552223333", {"body": "x"}))
    assert info.value.retryable


def twilio_at(url: str) -> TwilioSmsChannel:
    return TwilioSmsChannel(
        TwilioSettings(account_sid="AC1", auth_token=SecretStr("t"), from_number="+1555", base_url=url, timeout_s=1),
        LOCAL_RECEIVERS,
    )


def test_a_timeout_is_retryable(receiver: HttpReceiver) -> None:
    receiver.hold_from = 0  # received, never answered
    channel = SlackChannel(SlackSettings(timeout_s=0.3), LOCAL_RECEIVERS)
    try:
        with pytest.raises(DeliveryError) as info:
            channel.send(Notification("slack", f"{receiver.url}/hook", SLACK_PAYLOAD))
    finally:
        receiver.release.set()
    assert info.value.retryable
    assert "timeout" in info.value.message


def test_a_payload_missing_its_fields_is_not_retryable(receiver: HttpReceiver) -> None:
    with pytest.raises(DeliveryError) as info:
        slack(receiver).send(Notification("slack", receiver.url, {"text": "only text"}))
    assert not info.value.retryable
    assert receiver.requests == []
