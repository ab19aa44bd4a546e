-- No query reads violations or complaints through these: every question about open records, deadlines and
-- hearings is asked per building (the bbl indexes), and the city-wide lists sort by coalesce(date, ..) and id,
-- which none of them can produce. Every ingested row still paid for up to three more B-tree entries: dropped to
-- make the ingestion's writes cheaper (benchmarks/RESULTS.md, "Ingestion").
DROP INDEX IF EXISTS violations_status_idx;
DROP INDEX IF EXISTS violations_open_deadlines_idx;
DROP INDEX IF EXISTS violations_hearing_idx;
DROP INDEX IF EXISTS complaints_status_idx;
