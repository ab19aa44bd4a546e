-- Data quality, guarded deletions and address-only records (issue 18).

-- A row's field-level problems, [{field, raw, reason}], NULL when it had none: a garbage date or amount becomes
-- NULL in its column, and this is where the value the source sent and the reason stay visible.
ALTER TABLE violations ADD COLUMN quality jsonb;
ALTER TABLE complaints ADD COLUMN quality jsonb;
ALTER TABLE properties ADD COLUMN quality jsonb;

-- 311 requests carry no block/lot and often no BBL: their address (normalized the way sentinel/address.py
-- writes PLUTO's) and their coordinates are resolved against PLUTO lots. `bbl_source` says how the BBL was
-- found: 'source' (the record's own), 'address', 'coordinates' or 'bin'; NULL while unresolved.
ALTER TABLE complaints ADD COLUMN address_key text;
ALTER TABLE complaints ADD COLUMN latitude double precision;
ALTER TABLE complaints ADD COLUMN longitude double precision;
ALTER TABLE complaints ADD COLUMN bbl_source text
    CHECK (bbl_source IN ('source', 'address', 'coordinates', 'bin'));
UPDATE complaints SET bbl_source = 'source' WHERE bbl IS NOT NULL;
CREATE INDEX complaints_unresolved_idx ON complaints (source) WHERE bbl IS NULL AND NOT is_deleted;

ALTER TABLE properties ADD COLUMN address_key text;
CREATE INDEX properties_address_key_idx ON properties (address_key text_pattern_ops, borough);
CREATE INDEX properties_latitude_idx ON properties (latitude) WHERE latitude IS NOT NULL;

-- Street-name search over buildings (HPD registrations carry house number and street of each BIN).
CREATE INDEX buildings_street_idx ON buildings (street_name text_pattern_ops);

-- What a deletion guard held back: an empty or shrunken upstream does not tombstone, it is recorded here and
-- the run is 'partial'.
CREATE TABLE source_anomalies (
    id              bigserial PRIMARY KEY,
    run_id          bigint REFERENCES ingestion_runs (id),
    dataset         text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('empty_source', 'shrunken_source')),
    live_records    bigint NOT NULL,
    source_records  bigint NOT NULL,
    would_delete    bigint NOT NULL,
    detail          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX source_anomalies_dataset_idx ON source_anomalies (dataset, created_at DESC);
