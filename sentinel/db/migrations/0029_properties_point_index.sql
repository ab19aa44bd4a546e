-- Locating a record by its coordinates (sentinel/ingest/locate.py) asks for the lots in a box of ~120 m around
-- it. A btree on latitude alone gave every lot in a band of that height across the whole city, read for each
-- record: its cost grew with the lots times the records to place (benchmarks/RESULTS.md, "Locating records by
-- their coordinates"). A GiST index on the lot's point answers the box itself.
CREATE INDEX properties_point_idx ON properties USING gist (point(longitude, latitude))
    WHERE latitude IS NOT NULL AND longitude IS NOT NULL;
DROP INDEX IF EXISTS properties_latitude_idx;
