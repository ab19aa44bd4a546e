"""Draining the notifications outbox: claim what is due, send it, record what happened.

Claiming is one short transaction: due rows (`pending`, or `sending` whose lease ran out) are locked with
`FOR UPDATE SKIP LOCKED`, so notifiers never claim the same row, and set to `sending` with
`next_attempt_at` = the end of a lease and a claim token. Each send is then confirmed on its own:

- sent: `sent`, `sent_at`; a confirmed row is never claimed again, so it is never sent twice;
- failed and retryable: back to `pending` at now + exponential backoff, with the error;
- failed for good, or out of attempts: `dead`, with the last error.

A notifier that dies between claim and confirm leaves its rows `sending`; when their lease ends any notifier
claims them again. The one message in flight at the moment of the crash may then go out twice (no protocol can
know whether a remote server acted on a request whose answer was lost); webhook events carry a stable `id` for
receivers to deduplicate. A confirmation only applies while the token is still the row's, so a notifier that
stalled past its lease cannot overwrite the outcome of the one that took over.

Digest rows (hourly/daily delivery) due together are sent as one message per (org, channel, target, delivery).

A row written for an alert carries no payload: the message is rendered from the alert when the row is claimed
(render is deterministic, so a retry sends the same bytes and a webhook event keeps its `id`). A row whose
payload is set (one without an alert) is sent as stored.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from sentinel.alerts.digest import Outgoing, group
from sentinel.alerts.render import AlertView, render, render_digest
from sentinel.channels.base import Channel, ChannelKind, DeliveryError, Notification

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class OutboxPolicy:
    max_attempts: int = 8
    base_backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)
    batch_size: int = 100  # immediate rows per claim; due digest rows are claimed whole

    def backoff(self, attempts: int) -> timedelta:
        """Wait after the `attempts`-th failed attempt: base, 2 base, 4 base, ... capped."""
        return min(self.base_backoff * (2 ** max(attempts - 1, 0)), self.max_backoff)


@dataclass(frozen=True)
class Claimed:
    id: int
    alert_id: int | None
    org_id: int
    channel: ChannelKind
    target: str
    payload: dict[str, Any] | None  # None: render it from the alert
    delivery: str
    attempts: int


@dataclass
class Claim:
    token: str
    rows: list[Claimed]
    alerts: dict[int, AlertView] = field(default_factory=dict)  # the claimed rows' alerts, by id


@dataclass
class DrainResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    messages: int = 0  # sends attempted (a digest is one message for several rows)

    def add(self, other: DrainResult) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.dead += other.dead
        self.messages += other.messages


_CLAIM = """
WITH due AS (
    SELECT id FROM notifications
    WHERE status IN ('pending', 'sending') AND next_attempt_at <= %(now)s AND {which}
    ORDER BY next_attempt_at, id
    {limit}
    FOR UPDATE SKIP LOCKED
)
UPDATE notifications n
SET status = 'sending', attempts = n.attempts + 1, next_attempt_at = %(lease_end)s, claim_token = %(token)s
FROM due WHERE n.id = due.id
RETURNING n.id, n.alert_id, n.org_id, n.channel, n.target, n.payload, n.delivery, n.attempts
"""


class Outbox:
    def __init__(
        self,
        database_url: str,
        channels: Mapping[ChannelKind, Channel],
        policy: OutboxPolicy | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._url = database_url
        self._channels = channels
        self.policy = policy or OutboxPolicy()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._url, autocommit=True)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def claim(self, now: datetime) -> Claim:
        token = uuid.uuid4().hex
        params = {"now": now, "lease_end": now + self.policy.lease, "token": token}
        conn = self._connection()
        rows: list[Claimed] = []
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                _CLAIM.format(which="delivery = 'immediate'", limit=f"LIMIT {int(self.policy.batch_size)}"), params
            )
            rows += [Claimed(**r) for r in cur.fetchall()]
            cur.execute(_CLAIM.format(which="delivery <> 'immediate'", limit=""), params)
            rows += [Claimed(**r) for r in cur.fetchall()]
        claim = Claim(token, sorted(rows, key=lambda r: r.id))
        to_render = [
            r.alert_id
            for r in claim.rows
            if r.alert_id is not None and (r.payload is None or r.delivery != "immediate")
        ]
        if to_render:
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(
                    "SELECT id, rule_id, org_id, bbl, trigger_key, title, payload FROM alerts WHERE id = ANY(%s)",
                    (sorted(set(to_render)),),
                )
                claim.alerts = {
                    r["id"]: AlertView(
                        r["rule_id"], r["org_id"], r["bbl"], r["trigger_key"], r["title"], r["payload"], r["id"]
                    )
                    for r in cur
                }
        return claim

    def deliver(self, claim: Claim, now: datetime | None = None) -> DrainResult:
        now = now or self._clock()
        result = DrainResult(claimed=len(claim.rows))
        for rows, notification in self._messages(claim, now):
            if notification is None:  # its alert was deleted between the claim's two reads
                self._failed(claim.token, rows, "the alert no longer exists", False, now, result)
                continue
            result.messages += 1
            channel = self._channels.get(notification.channel)
            try:
                if channel is None:
                    raise DeliveryError(False, f"no {notification.channel} channel configured")
                channel.send(notification)
            except DeliveryError as error:
                self._failed(claim.token, rows, error.message, error.retryable, now, result)
            except Exception as error:  # a channel bug must not lose the message: retry, then dead
                self._failed(claim.token, rows, f"{type(error).__name__}: {error}", True, now, result)
            else:
                self._confirm(claim.token, rows, now)
                result.sent += len(rows)
        return result

    def drain_once(self, now: datetime | None = None) -> DrainResult:
        now = now or self._clock()
        return self.deliver(self.claim(now), now)

    def drain(self, now: datetime | None = None, max_rounds: int = 1000) -> DrainResult:
        """Deliver everything due at `now`; failed rows wait for their backoff, so this terminates."""
        total = DrainResult()
        for _ in range(max_rounds):
            result = self.drain_once(now)
            total.add(result)
            if result.claimed == 0:
                break
        return total

    def _messages(self, claim: Claim, now: datetime) -> list[tuple[list[Claimed], Notification | None]]:
        out: list[tuple[list[Claimed], Notification | None]] = []
        digest_rows: list[Claimed] = []
        for row in claim.rows:
            if row.delivery == "immediate" or row.alert_id not in claim.alerts:
                out.append(([row], _single(row, claim.alerts)))
            else:
                digest_rows.append(row)
        if digest_rows:
            by_alert_key: dict[tuple[Any, ...], list[Claimed]] = {}
            items = []
            for row in digest_rows:
                view = claim.alerts[row.alert_id]  # type: ignore[index]
                items.append(Outgoing(view, row.channel, row.target, row.delivery, now))  # type: ignore[arg-type]
                key = (row.org_id, row.channel, row.target, row.delivery)
                by_alert_key.setdefault(key, []).append(row)
            for batch in group(items):
                rows = by_alert_key[(batch.org_id, batch.channel, batch.target, batch.delivery)]
                payload = render_digest(batch.alerts, batch.channel, batch.delivery)
                alert_id = batch.alerts[0].alert_id if len(batch.alerts) == 1 else None
                out.append(
                    (rows, Notification(batch.channel, batch.target, payload, rows[0].id, alert_id, batch.org_id))
                )
        return out

    def _confirm(self, token: str, rows: Sequence[Claimed], now: datetime) -> None:
        self._connection().execute(
            "UPDATE notifications SET status = 'sent', sent_at = %s, last_error = NULL, claim_token = NULL"
            " WHERE id = ANY(%s) AND claim_token = %s AND status = 'sending'",
            (now, [r.id for r in rows], token),
        )

    def _failed(
        self, token: str, rows: Sequence[Claimed], error: str, retryable: bool, now: datetime, result: DrainResult
    ) -> None:
        conn = self._connection()
        for row in rows:
            if retryable and row.attempts < self.policy.max_attempts:
                conn.execute(
                    "UPDATE notifications SET status = 'pending', next_attempt_at = %s, last_error = %s,"
                    " claim_token = NULL WHERE id = %s AND claim_token = %s AND status = 'sending'",
                    (now + self.policy.backoff(row.attempts), error[:2000], row.id, token),
                )
                result.retried += 1
            else:
                conn.execute(
                    "UPDATE notifications SET status = 'dead', last_error = %s, claim_token = NULL"
                    " WHERE id = %s AND claim_token = %s AND status = 'sending'",
                    (error[:2000], row.id, token),
                )
                result.dead += 1
        log.warning(
            "notification failed",
            extra={"ids": [r.id for r in rows], "error": error, "retryable": retryable},
        )


def _single(row: Claimed, alerts: Mapping[int, AlertView]) -> Notification | None:
    payload = row.payload
    if payload is None:
        view = alerts.get(row.alert_id) if row.alert_id is not None else None
        if view is None:
            return None
        payload = render(view, row.channel)
    return Notification(row.channel, row.target, payload, row.id, row.alert_id, row.org_id)
