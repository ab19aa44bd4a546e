-- Which ingestion run last inserted or changed a record: the alert evaluator asks "what changed in run R"
-- and gets an exact answer from an index instead of a time window.
ALTER TABLE violations ADD COLUMN last_run_id bigint;
ALTER TABLE complaints ADD COLUMN last_run_id bigint;
CREATE INDEX violations_last_run_idx ON violations (last_run_id);
CREATE INDEX complaints_last_run_idx ON complaints (last_run_id);

-- The read mode a partition's position belongs to: an interrupted full read (ordered by :id) must resume as a
-- full read even if the next run is incremental (ordered by :updated_at, :id).
ALTER TABLE watermarks ADD COLUMN mode text NOT NULL DEFAULT 'incremental' CHECK (mode IN ('full', 'incremental'));

-- Tombstones carry their time on every table that has them.
ALTER TABLE registrations ADD COLUMN deleted_at timestamptz;
ALTER TABLE registration_contacts ADD COLUMN deleted_at timestamptz;

-- A record rejected again on the next run is the same reject, not a new one: re-ingesting changes nothing.
ALTER TABLE rejects ADD COLUMN raw_hash text;
UPDATE rejects SET raw_hash = md5(raw::text);
ALTER TABLE rejects ALTER COLUMN raw_hash SET NOT NULL;
ALTER TABLE rejects ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now();
CREATE UNIQUE INDEX rejects_once_idx ON rejects (dataset, raw_hash);
