-- A violation's or complaint's source record kept apart from its row, a page of records at a time
-- (sentinel/source_pages.py): the row says where its record is (`source_page`, `source_line`). Packing each record
-- on its own (migrations 0025, 0027) was a third of a normalizer's CPU; a page's records compressed together
-- cost a fraction of that and take fewer bytes (benchmarks/RESULTS.md, "Source records a page at a time").
-- Rows written before keep `raw` or `raw_packed` until they change: the merge then points them at a page and
-- clears both.
CREATE TABLE source_pages (
    id          uuid PRIMARY KEY,  -- from the page's content: the same records in the same order are stored once
    dataset     text NOT NULL,
    records     integer NOT NULL CHECK (records > 0),
    body        bytea NOT NULL,    -- zstd: the records' JSON, one per line, in the order of their rows' lines
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- Already compressed: pglz would spend CPU at every write to find nothing to gain.
ALTER TABLE source_pages ALTER COLUMN body SET STORAGE EXTERNAL;

ALTER TABLE violations ADD COLUMN source_page uuid, ADD COLUMN source_line integer;
ALTER TABLE complaints ADD COLUMN source_page uuid, ADD COLUMN source_line integer;
-- Every existing row holds the old constraint, which implies the new one: no scan of the tables to validate it.
ALTER TABLE violations DROP CONSTRAINT violations_record_kept;
ALTER TABLE violations ADD CONSTRAINT violations_record_kept
    CHECK (raw IS NOT NULL OR raw_packed IS NOT NULL OR source_page IS NOT NULL) NOT VALID;
ALTER TABLE complaints DROP CONSTRAINT complaints_record_kept;
ALTER TABLE complaints ADD CONSTRAINT complaints_record_kept
    CHECK (raw IS NOT NULL OR raw_packed IS NOT NULL OR source_page IS NOT NULL) NOT VALID;
