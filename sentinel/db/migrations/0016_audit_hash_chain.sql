-- A hash chain over the audit log, so an edit, a deletion or an insertion made behind the triggers' back (by the
-- owner, with the triggers disabled or session_replication_role = replica) shows as a broken link
-- (`vsentinel audit verify`, sentinel/auth/audit_chain.py).
--
-- Each committed audit row gets one link in audit_chain: its place in the chain (seq), the previous link's hash and
-- sha256(previous hash || the row's fields). The link is added by a deferred constraint trigger, i.e. while the
-- transaction commits, under the row lock of audit_chain_head: concurrent transactions append one after another,
-- a rolled-back audit row leaves no link, and the lock is held only for the commit itself (taking it at insert time
-- would hold it for the rest of the request and could deadlock with the row locks the request takes afterwards).
-- The links live beside the rows, not in them, so no audit row is ever updated.
--
-- The application role (sentinel/db/roles.py) may read these tables and insert audit rows, nothing else; the
-- trigger function runs as the owner (SECURITY DEFINER) to write the link.

CREATE TABLE audit_chain (
    seq         bigint PRIMARY KEY,
    audit_id    bigint NOT NULL UNIQUE,  -- no foreign key: a deleted audit row must stay visible as a broken link
    prev_hash   bytea NOT NULL,
    row_hash    bytea NOT NULL
);

CREATE TABLE audit_chain_head (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    seq         bigint NOT NULL,
    row_hash    bytea NOT NULL
);
INSERT INTO audit_chain_head (seq, row_hash) VALUES (0, decode(repeat('00', 32), 'hex'));

-- One field of the hashed message: 'N' for NULL, else 'V<bytes>:<value>' (length-prefixed, so no value can
-- imitate a boundary). The verifier builds the same message in Python from the stored values.
CREATE FUNCTION audit_chain_field(value text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN value IS NULL THEN 'N' ELSE 'V' || octet_length(value) || ':' || value END
$$;

CREATE FUNCTION audit_chain_hash(prev_hash bytea, seq bigint, entry audit_log) RETURNS bytea
LANGUAGE sql STABLE AS $$
    SELECT sha256(prev_hash || convert_to(
        audit_chain_field(seq::text)
        || audit_chain_field(entry.id::text)
        || audit_chain_field(to_char(entry.at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'))
        || audit_chain_field(entry.org_id::text)
        || audit_chain_field(entry.actor)
        || audit_chain_field(entry.action)
        || audit_chain_field(entry.target)
        || audit_chain_field(entry.details::text)
        || audit_chain_field(entry.request_id),
        'UTF8'))
$$;

CREATE FUNCTION audit_chain_append(entry audit_log) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    head audit_chain_head;
    link bytea;
BEGIN
    SELECT * INTO head FROM audit_chain_head FOR UPDATE;
    link := audit_chain_hash(head.row_hash, head.seq + 1, entry);
    INSERT INTO audit_chain (seq, audit_id, prev_hash, row_hash) VALUES (head.seq + 1, entry.id, head.row_hash, link);
    UPDATE audit_chain_head SET seq = head.seq + 1, row_hash = link;
END;
$$;
REVOKE EXECUTE ON FUNCTION audit_chain_append(audit_log) FROM PUBLIC;

CREATE FUNCTION audit_log_link() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM audit_chain_append(NEW);
    RETURN NULL;
END;
$$;

-- Rows written before this migration are chained in id order (their commit order is not known any more).
LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE;
DO $$
DECLARE
    entry audit_log;
BEGIN
    FOR entry IN SELECT * FROM audit_log ORDER BY id LOOP
        PERFORM audit_chain_append(entry);
    END LOOP;
END;
$$;

CREATE CONSTRAINT TRIGGER audit_log_chain
    AFTER INSERT ON audit_log
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION audit_log_link();

-- The links are as append-only as the rows they seal.
CREATE TRIGGER audit_chain_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_chain_no_truncate
    BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- ANALYZE needs the table's owner (PostgreSQL 15 has no MAINTAIN privilege): the ingestion, running as the
-- application role, refreshes the planner's statistics after a bulk load through this function.
CREATE FUNCTION analyze_table(target regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = target AND relnamespace = 'public'::regnamespace
                   AND relkind IN ('r', 'p', 'm')) THEN
        RAISE EXCEPTION 'analyze_table: % is not a table of the public schema', target
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('ANALYZE %s', target);
END;
$$;
REVOKE EXECUTE ON FUNCTION analyze_table(regclass) FROM PUBLIC;
