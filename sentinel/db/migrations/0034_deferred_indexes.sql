-- Secondary indexes of a table that an ingestion run fills from empty are dropped for the load and built after it
-- (sentinel/ingest/deferred_indexes.py): building an index once is cheaper than keeping it row by row
-- (benchmarks/RESULTS.md, "Indexes built after a first load"). Each one's definition is kept here until it is
-- built again, so a run that stopped half-way leaves what the next run (or `vsentinel migrate`) needs to build it.
CREATE TABLE deferred_indexes (
    name         text PRIMARY KEY,
    table_name   text NOT NULL,
    definition   text NOT NULL,
    deferred_at  timestamptz NOT NULL DEFAULT now()
);
