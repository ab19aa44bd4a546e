-- A full-replace dataset's version as its source told it: `rowsUpdatedAt` of /api/views/<id>.json (NYC_DATA.md
-- 4.4) when the partition's last full read began, and when it was asked. Written with the rows of that read, in
-- the transaction that commits them: an incremental run skips the dataset while the source's value has not moved
-- (sentinel/ingest/source_version.py). NULL: not asked, or the source did not say; the next run reads.
ALTER TABLE watermarks ADD COLUMN source_rows_updated_at timestamptz;
ALTER TABLE watermarks ADD COLUMN source_checked_at timestamptz;
