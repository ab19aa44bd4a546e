-- When a partition's read was planned (kept by a resumed read from the run that began it). The next incremental
-- read starts `overlap` before it, or at the mark when the mark is older (sentinel/ingest/watermarks.py
-- plan_read): a day's batch, whose rows a publisher stamps within minutes, is no longer read again by the next
-- day's run. NULL (a mark written before this column): `overlap` before the mark, as before.
ALTER TABLE watermarks ADD COLUMN read_started_at timestamptz;
