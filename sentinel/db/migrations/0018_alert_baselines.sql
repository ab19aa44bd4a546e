-- Alerts are about what happens after monitoring starts (issue 17). What was already there when a rule, a
-- building or a dataset started being watched is a baseline: kept in the feed, flagged, never notified.

-- When a dataset's partition first finished a read: records first seen before it came with the first sync.
ALTER TABLE watermarks ADD COLUMN synced_at timestamptz;
-- Partitions that already finished a read: completed now, or mid-way through an incremental read (which only
-- ever follows a finished one). A first full read interrupted before this migration stays a first sync.
UPDATE watermarks SET synced_at = updated_at WHERE completed OR mode = 'incremental';

-- When the rule started watching: set at creation and again when what it watches changes (condition, scope,
-- re-enabled), so an edited rule does not report history that its new condition happens to match.
ALTER TABLE alert_rules ADD COLUMN monitoring_since timestamptz NOT NULL DEFAULT now();
UPDATE alert_rules SET monitoring_since = created_at;

CREATE FUNCTION alert_rules_monitoring_since() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.condition IS DISTINCT FROM OLD.condition OR NEW.scope IS DISTINCT FROM OLD.scope
       OR (NEW.enabled AND NOT OLD.enabled) THEN
        NEW.monitoring_since := now();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER alert_rules_monitoring_since BEFORE UPDATE ON alert_rules
    FOR EACH ROW EXECUTE FUNCTION alert_rules_monitoring_since();

-- "Already open when monitoring began": an alert the engine stored without notifying anyone.
ALTER TABLE alerts ADD COLUMN baseline boolean NOT NULL DEFAULT false;

-- Which (rule, building) pairs have had their existing records recorded as a baseline, and when.
CREATE TABLE alert_baselines (
    rule_id     bigint NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    bbl         char(10) NOT NULL,
    taken_at    timestamptz NOT NULL,
    PRIMARY KEY (rule_id, bbl)
);
