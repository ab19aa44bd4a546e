-- A complaint keeps its source record packed like a violation (migration 0025, sentinel/raw_records.py): only the
-- fields its columns do not hold verbatim, deflated against a dictionary of its dataset's common values. As JSON
-- the record was most of the table, ~1.8 GB per million complaints against ~1.0 for violations
-- (benchmarks/RESULTS.md, "NYC at full size"). Rows written before keep their JSON in `raw` until they change:
-- the merge then writes `raw_packed` and clears `raw`.
ALTER TABLE complaints ADD COLUMN raw_packed bytea;
ALTER TABLE complaints ALTER COLUMN raw DROP NOT NULL;
ALTER TABLE complaints ADD CONSTRAINT complaints_record_kept CHECK (raw IS NOT NULL OR raw_packed IS NOT NULL);
-- Already deflated: pglz would spend CPU at every write to find nothing to gain.
ALTER TABLE complaints ALTER COLUMN raw_packed SET STORAGE EXTERNAL;
