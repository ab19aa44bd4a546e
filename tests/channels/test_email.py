from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from sentinel.channels import DeliveryError, Notification, SmtpEmailChannel, SmtpSettings
from tests.channels.receivers import EphemeralPortController, SmtpRecorder, wait_for

PAYLOAD = {
    "subject": "[ViolationSentinel] New HPD Class C violation at 123 Main St",
    "text": "No heat in apartment 4B, certify by 2026-12-01",
    "html": "<p>No heat in apartment <b>4B</b>, certify by 2026-12-01</p>",
}


def parts(envelope: Any) -> dict[str, str]:
    import email
    from email import policy

    message = email.message_from_bytes(envelope.original_content, policy=policy.default)
    found = {"subject": str(message["Subject"]), "from": str(message["From"]), "to": str(message["To"])}
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            found[part.get_content_type()] = part.get_content()
    found["content-type"] = message.get_content_type()
    return found


def test_email_arrives_as_multipart_text_and_html(
    smtp_server: tuple[EphemeralPortController, SmtpRecorder],
) -> None:
    controller, recorder = smtp_server
    channel = SmtpEmailChannel(
        SmtpSettings(host="127.0.0.1", port=controller.port, from_address="Sentinel <alerts@vs.test>")
    )

    result = channel.send(Notification("email", "owner@example.com, manager@example.com", PAYLOAD))

    wait_for(lambda: len(recorder.envelopes) == 1)
    (envelope,) = recorder.envelopes
    assert envelope.mail_from == "alerts@vs.test"
    assert envelope.rcpt_tos == ["owner@example.com", "manager@example.com"]
    got = parts(envelope)
    assert got["content-type"] == "multipart/alternative"
    assert got["subject"] == PAYLOAD["subject"]
    assert got["text/plain"].strip() == PAYLOAD["text"]
    assert got["text/html"].strip() == PAYLOAD["html"]
    assert result.provider_id is not None
    assert result.provider_id.endswith("@vs.test>")


def test_invalid_recipient_is_not_retried() -> None:
    channel = SmtpEmailChannel(SmtpSettings(port=1))
    with pytest.raises(DeliveryError) as info:
        channel.send(Notification("email", "not-an-address", PAYLOAD))
    assert not info.value.retryable


def test_unreachable_smtp_server_is_retryable() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound but not listening: connection refused
        channel = SmtpEmailChannel(SmtpSettings(host="127.0.0.1", port=port, timeout_s=2))
        with pytest.raises(DeliveryError) as info:
            channel.send(Notification("email", "owner@example.com", PAYLOAD))
    assert info.value.retryable


class Rejecting(SmtpRecorder):
    def __init__(self, reply: str) -> None:
        super().__init__()
        self.reply = reply

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return self.reply


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [("550 5.1.1 No such user", False), ("451 4.7.1 Greylisted, try later", True)],
)
def test_smtp_refusals_are_classified_by_reply_code(reply: str, retryable: bool) -> None:
    controller = EphemeralPortController(Rejecting(reply))
    controller.start()
    try:
        channel = SmtpEmailChannel(SmtpSettings(host="127.0.0.1", port=controller.port, timeout_s=2))
        with pytest.raises(DeliveryError) as info:
            channel.send(Notification("email", "owner@example.com", PAYLOAD))
    finally:
        controller.stop()
    assert info.value.retryable is retryable


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_starttls_then_login_then_delivery(tmp_path: Path) -> None:
    cert_path, key_path = self_signed_cert(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_path, key_path)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret")

    recorder = SmtpRecorder()
    controller = EphemeralPortController(
        recorder,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    try:
        settings = SmtpSettings(
            host="127.0.0.1", port=controller.port, starttls=True, username="alerts", password="s3cret"
        )
        # Trust exactly our test certificate: verification stays on, as in production.
        client_tls = ssl.create_default_context(cafile=str(cert_path))
        SmtpEmailChannel(settings, ssl_context=client_tls).send(Notification("email", "owner@example.com", PAYLOAD))

        wait_for(lambda: len(recorder.envelopes) == 1)
        assert logins == [(b"alerts", b"s3cret")]
        assert parts(recorder.envelopes[0])["subject"] == PAYLOAD["subject"]

    finally:
        controller.stop()


def test_a_line_break_in_the_subject_cannot_inject_headers(
    smtp_server: tuple[EphemeralPortController, SmtpRecorder],
) -> None:
    controller, recorder = smtp_server
    channel = SmtpEmailChannel(SmtpSettings(host="127.0.0.1", port=controller.port))
    payload = {**PAYLOAD, "subject": "No heat\r\nBcc: attacker@example.com"}

    channel.send(Notification("email", "owner@example.com", payload))

    wait_for(lambda: len(recorder.envelopes) == 1)
    assert recorder.envelopes[0].rcpt_tos == ["owner@example.com"]
    assert parts(recorder.envelopes[0])["subject"] == "No heat Bcc: attacker@example.com"
