-- An alert's outbox rows no longer carry a rendered copy of the message: the notifier renders it from the alert
-- when it sends. Rendering an email, a Slack message and a webhook event for every new alert inside the
-- evaluation's transaction was most of the cost of evaluating a large run, and the rows it filled were
-- mostly copies of alerts.payload. A row without an alert (nothing to render from) must still carry one.
ALTER TABLE notifications ALTER COLUMN payload DROP NOT NULL;
ALTER TABLE notifications ADD CONSTRAINT notifications_payload_or_alert
    CHECK (payload IS NOT NULL OR alert_id IS NOT NULL);
