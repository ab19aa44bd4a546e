-- A violation keeps its source record packed (sentinel/raw_records.py): only the fields its columns do not hold
-- verbatim, deflated against a dictionary of the dataset's field names. As JSON beside the row the record was
-- three quarters of the table (benchmarks/RESULTS.md, "Load efficiency against nycdb"). Rows written before keep
-- their JSON in `raw` until they change: the merge then writes `raw_packed` and clears `raw`.
ALTER TABLE violations ADD COLUMN raw_packed bytea;
ALTER TABLE violations ALTER COLUMN raw DROP NOT NULL;
ALTER TABLE violations ADD CONSTRAINT violations_record_kept CHECK (raw IS NOT NULL OR raw_packed IS NOT NULL);
-- Already deflated: pglz would spend CPU at every write to find nothing to gain.
ALTER TABLE violations ALTER COLUMN raw_packed SET STORAGE EXTERNAL;
