"""Channel settings. Plain pydantic models filled from constructor arguments; the application settings
(sentinel.settings, `VS_*` variables) build them, so this package never reads the environment itself."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


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
    signing_secret: SecretStr = SecretStr("")
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
