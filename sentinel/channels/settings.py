"""Channel settings. Plain pydantic models filled from constructor arguments; the channels never read the
environment themselves. `channel_settings_from_env` is the one place that maps `VS_*` variables onto them,
for the notifier process."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from sentinel.outbound import OutboundPolicy


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SmtpSettings(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = "ViolationSentinel <alerts@violationsentinel.local>"
    starttls: bool = False
    # Only for tests and private relays with self-signed certificates.
    verify_tls: bool = True
    timeout_s: float = Field(default=10.0, gt=0)


class SlackSettings(_Frozen):
    # Used when a notification's target is empty; a rule normally names its own webhook URL.
    default_webhook_url: SecretStr | None = None
    timeout_s: float = Field(default=10.0, gt=0)


class TwilioSettings(_Frozen):
    account_sid: str = ""
    auth_token: SecretStr = SecretStr("")
    from_number: str = ""
    base_url: str = "https://api.twilio.com"
    timeout_s: float = Field(default=10.0, gt=0)


class WebhookSettings(_Frozen):
    # The fallback for organizations without a secret of their own (sentinel.channels.org_secrets).
    signing_secret: SecretStr = SecretStr("")
    # Opens the per-organization secrets (sentinel.crypto); without it only the fallback signs.
    secrets_key: SecretStr | None = None
    default_url: str | None = None
    timeout_s: float = Field(default=10.0, gt=0)
    user_agent: str = "ViolationSentinel-Webhooks/1"


class ChannelSettings(_Frozen):
    """Everything the notifier needs to build its channels. `enabled` lists the channels that really send;
    anything else falls back to the console channel, which is the development default."""

    enabled: frozenset[str] = frozenset({"console"})
    smtp: SmtpSettings = SmtpSettings()
    slack: SlackSettings = SlackSettings()
    twilio: TwilioSettings = TwilioSettings()
    webhook: WebhookSettings = WebhookSettings()
    # Every HTTP channel connects through sentinel.outbound with this policy.
    outbound: OutboundPolicy = OutboundPolicy()


_TRUE = {"1", "true", "yes", "on"}


def channel_settings_from_env(environ: Mapping[str, str] | None = None) -> ChannelSettings:
    """Channel settings from `VS_*` variables (the notifier's process environment). A channel is enabled when its
    essentials are set; `VS_CHANNELS_ENABLED=email,webhook` names the enabled set explicitly instead.

    VS_SMTP_HOST, VS_SMTP_PORT, VS_SMTP_USERNAME, VS_SMTP_PASSWORD, VS_SMTP_FROM, VS_SMTP_STARTTLS,
    VS_SMTP_VERIFY_TLS; VS_SLACK_ENABLED, VS_SLACK_WEBHOOK_URL; VS_TWILIO_ACCOUNT_SID, VS_TWILIO_AUTH_TOKEN,
    VS_TWILIO_FROM, VS_TWILIO_BASE_URL; VS_WEBHOOK_SECRET, VS_WEBHOOK_DEFAULT_URL, VS_SECRETS_KEY;
    VS_OUTBOUND_* (sentinel.outbound).
    """
    env = dict(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = env.get(f"VS_{name}")
        return value.strip() if value and value.strip() else None

    def flag(name: str, default: bool = False) -> bool:
        value = get(name)
        return default if value is None else value.lower() in _TRUE

    smtp = SmtpSettings(
        host=get("SMTP_HOST") or "127.0.0.1",
        port=int(get("SMTP_PORT") or 25),
        username=get("SMTP_USERNAME"),
        password=SecretStr(p) if (p := get("SMTP_PASSWORD")) else None,
        from_address=get("SMTP_FROM") or SmtpSettings().from_address,
        starttls=flag("SMTP_STARTTLS"),
        verify_tls=flag("SMTP_VERIFY_TLS", True),
    )
    slack_url = get("SLACK_WEBHOOK_URL")
    slack = SlackSettings(default_webhook_url=SecretStr(slack_url) if slack_url else None)
    twilio = TwilioSettings(
        account_sid=get("TWILIO_ACCOUNT_SID") or "",
        auth_token=SecretStr(get("TWILIO_AUTH_TOKEN") or ""),
        from_number=get("TWILIO_FROM") or "",
        base_url=get("TWILIO_BASE_URL") or TwilioSettings().base_url,
    )
    webhook = WebhookSettings(
        signing_secret=SecretStr(get("WEBHOOK_SECRET") or ""),
        default_url=get("WEBHOOK_DEFAULT_URL"),
        secrets_key=SecretStr(key) if (key := get("SECRETS_KEY")) else None,
    )
    explicit = get("CHANNELS_ENABLED")
    if explicit is not None:
        enabled = {kind.strip() for kind in explicit.split(",") if kind.strip()}
    else:
        enabled = {"console"}
        if get("SMTP_HOST"):
            enabled.add("email")
        if flag("SLACK_ENABLED") or slack_url:
            enabled.add("slack")
        if twilio.account_sid and twilio.from_number:
            enabled.add("sms")
        if webhook.signing_secret.get_secret_value() or webhook.secrets_key is not None:
            enabled.add("webhook")
    outbound = OutboundPolicy.model_validate(
        {name[len("VS_OUTBOUND_") :].lower(): value for name, value in env.items() if name.startswith("VS_OUTBOUND_")}
    )
    return ChannelSettings(
        enabled=frozenset(enabled), smtp=smtp, slack=slack, twilio=twilio, webhook=webhook, outbound=outbound
    )
