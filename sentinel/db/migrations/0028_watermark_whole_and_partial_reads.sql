-- Whole and partial reads of a full-replace dataset declared with `partial_read` (configs/datasets.yaml,
-- sentinel/ingest/partial_read.py). A partial read asks only for what can have changed since the last read and
-- never infers deletions; a whole read every few days does. Stamped on every partition of the dataset when a read
-- of the whole dataset finished cleanly (a whole read: its deletions reconciled too), with when the read began:
--   whole_read_at         our clock when the last clean whole read began (NULL: none on record -> read whole)
--   partial_read_at       our clock when the last clean partial read began
--   changes_read_through  the source's rowsUpdatedAt when the last clean read (whole or partial) began: the next
--                         partial read asks for the days from its publish day on
-- A partial read's partition marks have mode 'partial' (ordered by :id like a full read, never resumed: it is
-- small, and restarted whole with its window recomputed).
ALTER TABLE watermarks DROP CONSTRAINT IF EXISTS watermarks_mode_check;
ALTER TABLE watermarks ADD CONSTRAINT watermarks_mode_check CHECK (mode IN ('full', 'incremental', 'partial'));
ALTER TABLE watermarks ADD COLUMN whole_read_at timestamptz;
ALTER TABLE watermarks ADD COLUMN partial_read_at timestamptz;
ALTER TABLE watermarks ADD COLUMN changes_read_through timestamptz;
