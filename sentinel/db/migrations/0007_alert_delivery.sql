-- Alert delivery: what the outbox needs to batch digests and survive a notifier that dies mid-delivery, and the
-- balance each watched building had at the previous scan (penalty rules fire on the upward crossing only).

-- How the rule wanted the notification delivered when the alert was created: digest rows of one
-- (org, channel, target, delivery) due together go out as one message.
ALTER TABLE notifications ADD COLUMN delivery text NOT NULL DEFAULT 'immediate'
    CHECK (delivery IN ('immediate', 'hourly', 'daily'));
-- A claimed row is 'sending' with next_attempt_at = the end of its lease and the claimer's token: when the
-- notifier dies before confirming, the lease runs out and the row is claimable again; a late confirmation
-- from a claimer whose lease was taken over is ignored (the token no longer matches).
ALTER TABLE notifications ADD COLUMN claim_token text;
CREATE INDEX notifications_claimable_idx ON notifications (next_attempt_at) WHERE status IN ('pending', 'sending');

CREATE TABLE alert_balance_snapshots (
    bbl             char(10) PRIMARY KEY,
    balance_due     numeric(14, 2) NOT NULL,
    scanned_at      timestamptz NOT NULL
);
