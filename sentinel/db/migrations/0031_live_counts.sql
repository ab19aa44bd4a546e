-- Each dataset's live (not tombstoned) records, kept as the writer inserts and revives them and reconcile
-- tombstones them (sentinel/ingest/live_counts.py). Reconcile compares the source's row count with it after every
-- read: counting the records themselves each time cost a day in proportion to the city (benchmarks/RESULTS.md,
-- "A day's last statements that grew with the city"). A row exists once reconcile has counted the dataset exactly.
CREATE TABLE live_counts (
    dataset     text PRIMARY KEY,
    live        bigint NOT NULL,
    counted_at  timestamptz NOT NULL DEFAULT now()
);
