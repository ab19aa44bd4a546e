-- No query filters or sorts violations or complaints by updated_at (the stale-score check reads it per building
-- through the bbl index), yet every ingested row paid for one more B-tree entry: dropped to make the ingestion's
-- writes cheaper (benchmarks/RESULTS.md, "Ingestion").
DROP INDEX IF EXISTS violations_updated_idx;
DROP INDEX IF EXISTS complaints_updated_idx;
