-- Bookkeeping of ingestion: runs, per-partition watermarks, and the records that could not be normalized.

CREATE TABLE ingestion_runs (
    id              bigserial PRIMARY KEY,
    mode            text NOT NULL CHECK (mode IN ('full', 'incremental')),
    source_url      text NOT NULL,
    datasets        text[] NOT NULL,
    status          text NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'succeeded', 'failed', 'partial')),
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    stats           jsonb NOT NULL DEFAULT '{}'::jsonb,
    error           text
);
CREATE INDEX ingestion_runs_started_idx ON ingestion_runs (started_at DESC);

-- A partition's watermark moves only in the transaction that commits its rows: a crash resumes, never skips.
CREATE TABLE watermarks (
    dataset             text NOT NULL,
    partition           text NOT NULL,
    updated_at_mark     timestamptz,
    last_id             text,
    rows_committed      bigint NOT NULL DEFAULT 0,
    completed           boolean NOT NULL DEFAULT false,
    run_id              bigint REFERENCES ingestion_runs (id),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset, partition)
);

CREATE TABLE rejects (
    id              bigserial PRIMARY KEY,
    run_id          bigint REFERENCES ingestion_runs (id),
    dataset         text NOT NULL,
    source_key      text,
    reason          text NOT NULL,
    raw             jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejects_dataset_idx ON rejects (dataset, created_at DESC);
CREATE INDEX rejects_run_idx ON rejects (run_id);
