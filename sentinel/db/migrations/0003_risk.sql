-- Models and the scores they produce.

CREATE TABLE models (
    id              bigserial PRIMARY KEY,
    score_kind      text NOT NULL CHECK (score_kind IN ('overall', 'safety', 'legal', 'financial')),
    version         text NOT NULL,
    artifact_path   text NOT NULL,
    params          jsonb NOT NULL DEFAULT '{}'::jsonb,
    metrics         jsonb NOT NULL DEFAULT '{}'::jsonb,
    trained_at      timestamptz NOT NULL DEFAULT now(),
    is_active       boolean NOT NULL DEFAULT false,
    promoted_at     timestamptz,
    UNIQUE (score_kind, version)
);
-- Exactly one active model per score, enforced by the database rather than by convention.
CREATE UNIQUE INDEX models_one_active_idx ON models (score_kind) WHERE is_active;

CREATE TABLE risk_scores (
    id                  bigserial PRIMARY KEY,
    bbl                 char(10) NOT NULL,
    as_of               date NOT NULL,
    overall             smallint NOT NULL CHECK (overall BETWEEN 0 AND 100),
    safety              smallint NOT NULL CHECK (safety BETWEEN 0 AND 100),
    legal               smallint NOT NULL CHECK (legal BETWEEN 0 AND 100),
    financial           smallint NOT NULL CHECK (financial BETWEEN 0 AND 100),
    p_overall           double precision NOT NULL CHECK (p_overall BETWEEN 0 AND 1),
    p_safety            double precision NOT NULL CHECK (p_safety BETWEEN 0 AND 1),
    p_legal             double precision NOT NULL CHECK (p_legal BETWEEN 0 AND 1),
    p_financial         double precision NOT NULL CHECK (p_financial BETWEEN 0 AND 1),
    trend               text NOT NULL CHECK (trend IN ('up', 'down', 'flat')),
    reasons             jsonb NOT NULL DEFAULT '[]'::jsonb,
    model_versions      jsonb NOT NULL,
    computed_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (bbl, as_of)
);
CREATE INDEX risk_scores_latest_idx ON risk_scores (bbl, computed_at DESC);
CREATE INDEX risk_scores_overall_idx ON risk_scores (as_of, overall DESC);
