"""The development default: write the notification to the log instead of sending it anywhere."""

from __future__ import annotations

import json
import logging

from sentinel.channels.base import ChannelKind, DeliveryResult, Notification

log = logging.getLogger("sentinel.notifications")


class ConsoleChannel:
    kind: ChannelKind = "console"

    def __init__(self, logger: logging.Logger = log) -> None:
        self._log = logger

    def send(self, notification: Notification) -> DeliveryResult:
        payload = notification.payload
        text = payload.get("text") or payload.get("body") or payload.get("subject")
        if text is None:
            text = json.dumps(payload, sort_keys=True, default=str)
        self._log.info(
            "notification channel=%s target=%s alert=%s: %s",
            notification.channel,
            notification.target or "-",
            notification.alert_id,
            text,
        )
        return DeliveryResult("console", notification.target, detail="logged")
