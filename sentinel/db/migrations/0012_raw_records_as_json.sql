-- The source record each row keeps is stored as json (its text, checked to be valid JSON) instead of jsonb.
-- Nothing queries inside it: it is read back whole (audit, reprocessing), and json keeps the source's own key
-- order. Building jsonb's binary form was ~7 us of PostgreSQL CPU per ingested row, a fifth of a COPY into
-- violations (benchmarks/RESULTS.md, "Ingestion"). A query that needs jsonb operators casts: raw::jsonb.
ALTER TABLE violations ALTER COLUMN raw TYPE json USING raw::json;
ALTER TABLE complaints ALTER COLUMN raw TYPE json USING raw::json;
ALTER TABLE properties ALTER COLUMN raw TYPE json USING raw::json;
ALTER TABLE registrations ALTER COLUMN raw TYPE json USING raw::json;
ALTER TABLE registration_contacts ALTER COLUMN raw TYPE json USING raw::json;
