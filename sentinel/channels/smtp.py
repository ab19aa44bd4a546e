"""Email over SMTP: a multipart/alternative message (plain text first, HTML preferred by capable clients)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from sentinel.channels.base import (
    ChannelKind,
    DeliveryError,
    DeliveryResult,
    Notification,
    require_payload_keys,
)
from sentinel.channels.settings import SmtpSettings


class SmtpEmailChannel:
    kind: ChannelKind = "email"

    def __init__(self, settings: SmtpSettings, ssl_context: ssl.SSLContext | None = None) -> None:
        self._settings = settings
        self._ssl_context = ssl_context or _ssl_context(settings.verify_tls)

    def send(self, notification: Notification) -> DeliveryResult:
        require_payload_keys(notification, "subject", "text", "html")
        recipients = [addr.strip() for addr in notification.target.split(",") if addr.strip()]
        if not recipients or not all("@" in parseaddr(addr)[1] for addr in recipients):
            raise DeliveryError(False, f"invalid email recipient {notification.target!r}")
        message = build_message(
            self._settings.from_address,
            recipients,
            notification.payload["subject"],
            notification.payload["text"],
            notification.payload["html"],
        )
        try:
            self._deliver(message, recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            # Refused for all: retry only if every refusal was temporary (4xx, e.g. greylisting).
            raise DeliveryError(all(400 <= c < 500 for c in codes), f"recipients refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                400 <= exc.smtp_code < 500, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", exc.smtp_code
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(False, f"SMTP server does not support a required feature: {exc}") from exc
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(False, f"SMTP server certificate rejected: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Disconnects, refused connections and timeouts (socket.timeout is an OSError) pass with time.
            raise DeliveryError(True, f"SMTP connection failed: {exc!r}") from exc
        return DeliveryResult("email", notification.target, provider_id=message["Message-ID"])

    def _deliver(self, message: EmailMessage, recipients: list[str]) -> None:
        s = self._settings
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout_s) as smtp:
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=self._ssl_context)
                smtp.ehlo()
            if s.username:
                password = s.password.get_secret_value() if s.password else ""
                smtp.login(s.username, password)
            smtp.send_message(message, to_addrs=recipients)


def build_message(sender: str, recipients: list[str], subject: str, text: str, html: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    # Record text can hold line breaks; in a header they are an error (or, unchecked, header injection).
    message["Subject"] = " ".join(subject.split())
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=_domain(sender))
    # Automatic alerts: ask auto-responders (out-of-office) not to answer.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def _domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "violationsentinel.local"


def _ssl_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
