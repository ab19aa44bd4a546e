"""Build the channel set from settings: the configured real channels, the console for everything else."""

from __future__ import annotations

from sentinel.channels.base import Channel, ChannelKind
from sentinel.channels.console import ConsoleChannel
from sentinel.channels.settings import ChannelSettings
from sentinel.channels.slack import SlackChannel
from sentinel.channels.sms import TwilioSmsChannel
from sentinel.channels.smtp import SmtpEmailChannel
from sentinel.channels.webhook import SigningSecrets, WebhookChannel

ALL_KINDS: tuple[ChannelKind, ...] = ("email", "sms", "slack", "webhook", "console")


def build_channels(
    settings: ChannelSettings, webhook_secrets: SigningSecrets | None = None
) -> dict[ChannelKind, Channel]:
    """One channel per kind. A kind that is not enabled is logged by the console channel rather than dropped,
    so a development setup shows exactly what production would have sent. `webhook_secrets` gives each
    organization's own signing secrets (sentinel.channels.org_secrets.OrgSecretSource)."""
    unknown = set(settings.enabled) - set(ALL_KINDS)
    if unknown:
        raise ValueError(f"unknown channel kinds enabled: {sorted(unknown)}")
    console = ConsoleChannel()
    channels: dict[ChannelKind, Channel] = dict.fromkeys(ALL_KINDS, console)
    if "email" in settings.enabled:
        channels["email"] = SmtpEmailChannel(settings.smtp)
    if "slack" in settings.enabled:
        channels["slack"] = SlackChannel(settings.slack, settings.outbound)
    if "sms" in settings.enabled:
        channels["sms"] = TwilioSmsChannel(settings.twilio, settings.outbound)
    if "webhook" in settings.enabled:
        channels["webhook"] = WebhookChannel(settings.webhook, settings.outbound, secrets=webhook_secrets)
    return channels
