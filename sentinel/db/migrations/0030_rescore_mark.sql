-- How far `rescore_changed` (sentinel/risk/scoring.py) has looked: every ingestion run up to `run_id` had ended
-- when it last read the records those runs wrote. The next rescore reads only the records of later runs (by
-- `last_run_id`, indexed) instead of grouping every violation, complaint and score by lot, a day's cost that grew
-- with the city (benchmarks/RESULTS.md, "A day's last statements that grew with the city"). One row.
CREATE TABLE rescore_mark (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    run_id bigint NOT NULL,
    marked_at timestamptz NOT NULL DEFAULT now()
);
