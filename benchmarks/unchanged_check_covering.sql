-- Does a covering unique index spare the unchanged check its heap reads? (issue 21; not a pytest test)
--
--     psql -h 127.0.0.1 -U postgres -f benchmarks/unchanged_check_covering.sql
--
-- A complaints-shaped table of 2M rows (a 64-character content_hash, ~500 bytes a row), 2 % of its rows staged as
-- a day's republished, unchanged records; the check as sentinel/ingest/writer.py writes it (DELETE ... WHERE
-- EXISTS), then with a unique index that INCLUDEs the columns the check compares, both as the writer's statement
-- and as a materialized CTE (a DELETE's joined relations need their heap rows for row marks, so only the CTE
-- form can use an index-only scan). Each EXPLAIN's Buffers line is the figure; each runs in a rolled-back
-- transaction. The writer's statement is set once (`writer_check`: sentinel/ingest/writer.py's
-- _drop_unchanged_sql for complaints) and run before and after the index.
-- Results: benchmarks/RESULTS.md, "A covering index for the unchanged check (not adopted)".
DROP DATABASE IF EXISTS unchanged_check_covering;
CREATE DATABASE unchanged_check_covering;
\c unchanged_check_covering
SET jit = off;
SELECT setseed(0.21);
CREATE TABLE c (
    id bigserial PRIMARY KEY, source text NOT NULL, source_id text NOT NULL, status_date date,
    content_hash text NOT NULL, is_deleted boolean NOT NULL DEFAULT false, pad text, UNIQUE (source, source_id)
);
INSERT INTO c (source, source_id, status_date, content_hash, pad)
SELECT '311', (10000000 + g)::text, date '2020-01-01' + (g % 1000), md5(g::text) || md5((g + 1)::text), repeat('x', 500)
FROM generate_series(1, 2000000) g;
VACUUM ANALYZE c;
\set writer_check 'DELETE FROM s WHERE EXISTS (SELECT 1 FROM c stored WHERE stored.source = s.source AND stored.source_id = s.source_id AND NOT ((stored.content_hash IS DISTINCT FROM s.content_hash OR stored.is_deleted) AND NOT (stored.source = ''DOB'' AND coalesce(s.status_date < stored.status_date, false))))'
CREATE TEMP TABLE s AS SELECT source, source_id, status_date, content_hash, is_deleted FROM c WHERE random() < 0.02;

\echo 'the writer''s statement, the plain unique index'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) :writer_check;
ROLLBACK;

SELECT relname, pg_size_pretty(pg_relation_size(oid)) FROM pg_class WHERE relname = 'c_source_source_id_key';
CREATE UNIQUE INDEX c_covering ON c (source, source_id) INCLUDE (content_hash, is_deleted, status_date);
ALTER TABLE c DROP CONSTRAINT c_source_source_id_key;
VACUUM c;

\echo 'the writer''s statement, the covering index'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) :writer_check;
ROLLBACK;

\echo 'a materialized CTE, the covering index'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) WITH same AS MATERIALIZED (
    SELECT s.source, s.source_id FROM s JOIN c stored ON stored.source = s.source AND stored.source_id = s.source_id
    WHERE NOT ((stored.content_hash IS DISTINCT FROM s.content_hash OR stored.is_deleted)
               AND NOT (stored.source = 'DOB' AND coalesce(s.status_date < stored.status_date, false))))
DELETE FROM s USING same WHERE s.source = same.source AND s.source_id = same.source_id;
ROLLBACK;

SELECT relname, pg_size_pretty(pg_relation_size(oid)) FROM pg_class WHERE relname IN ('c', 'c_covering');
\c postgres
DROP DATABASE unchanged_check_covering;
