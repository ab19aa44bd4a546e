"""Channel settings from VS_* variables: a channel is enabled by its essentials, or by an explicit list."""

from __future__ import annotations

from sentinel.channels.settings import channel_settings_from_env


def test_only_the_console_sends_when_nothing_is_configured() -> None:
    assert channel_settings_from_env({}).enabled == {"console"}


def test_configured_channels_are_enabled_with_their_settings() -> None:
    settings = channel_settings_from_env(
        {
            "VS_SMTP_HOST": "mail.example.com",
            "VS_SMTP_PORT": "587",
            "VS_SMTP_USERNAME": "alerts",
            "VS_SMTP_PASSWORD": "pw",
            "VS_SMTP_STARTTLS": "true",
            "VS_SLACK_ENABLED": "1",
            "VS_TWILIO_ACCOUNT_SID": "AC1",
            "VS_TWILIO_AUTH_TOKEN": "tok",
            "VS_TWILIO_FROM": "+15550001111",
            "VS_TWILIO_BASE_URL": "http://127.0.0.1:9999",
            "VS_WEBHOOK_SECRET": "whsec",
        }
    )
    assert settings.enabled == {"console", "email", "slack", "sms", "webhook"}
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.starttls) == ("mail.example.com", 587, True)
    assert settings.smtp.password is not None and settings.smtp.password.get_secret_value() == "pw"
    assert settings.twilio.base_url == "http://127.0.0.1:9999"
    assert settings.webhook.signing_secret.get_secret_value() == "whsec"


def test_an_explicit_list_overrides_detection() -> None:
    env = {"VS_SMTP_HOST": "mail.example.com", "VS_CHANNELS_ENABLED": "webhook, console", "VS_WEBHOOK_SECRET": "s"}
    assert channel_settings_from_env(env).enabled == {"webhook", "console"}
