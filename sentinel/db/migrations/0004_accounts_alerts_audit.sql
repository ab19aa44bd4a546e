-- Customers: organizations, their users and API keys, the buildings they watch, alert rules, alerts,
-- the notification outbox, and the append-only audit log.

CREATE TABLE organizations (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    timezone    text NOT NULL DEFAULT 'America/New_York',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id              bigserial PRIMARY KEY,
    org_id          bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           text NOT NULL,
    password_hash   text NOT NULL CHECK (password_hash LIKE '$argon2%'),
    role            text NOT NULL CHECK (role IN ('admin', 'manager', 'viewer', 'api')),
    is_active       boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_idx ON users (lower(email));
CREATE INDEX users_org_idx ON users (org_id);

-- The key itself is shown once; only its hash is kept. `prefix` is the public part used to find the row.
CREATE TABLE api_keys (
    id              bigserial PRIMARY KEY,
    org_id          bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         bigint REFERENCES users (id) ON DELETE SET NULL,
    name            text NOT NULL,
    prefix          text NOT NULL UNIQUE,
    key_hash        text NOT NULL,
    scopes          text[] NOT NULL DEFAULT '{}',
    expires_at      timestamptz,
    revoked_at      timestamptz,
    last_used_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_org_idx ON api_keys (org_id);

CREATE TABLE portfolios (
    id          bigserial PRIMARY KEY,
    org_id      bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, name)
);

CREATE TABLE portfolio_buildings (
    portfolio_id    bigint NOT NULL REFERENCES portfolios (id) ON DELETE CASCADE,
    bbl             char(10) NOT NULL CHECK (bbl ~ '^[1-5][0-9]{9}$'),
    bin             char(7),
    added_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (portfolio_id, bbl)
);
CREATE INDEX portfolio_buildings_bbl_idx ON portfolio_buildings (bbl);

CREATE TABLE alert_rules (
    id                  bigserial PRIMARY KEY,
    org_id              bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                text NOT NULL,
    condition           jsonb NOT NULL,
    scope               jsonb NOT NULL,
    channels            jsonb NOT NULL DEFAULT '[]'::jsonb,
    delivery            text NOT NULL DEFAULT 'immediate' CHECK (delivery IN ('immediate', 'hourly', 'daily')),
    quiet_hours         jsonb,
    cooldown_minutes    integer NOT NULL DEFAULT 0 CHECK (cooldown_minutes >= 0),
    enabled             boolean NOT NULL DEFAULT true,
    created_by          bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_rules_org_idx ON alert_rules (org_id) WHERE enabled;

-- One alert per (rule, building, triggering record or event): re-evaluation can never duplicate.
CREATE TABLE alerts (
    id                  bigserial PRIMARY KEY,
    rule_id             bigint NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    org_id              bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    bbl                 char(10) NOT NULL,
    trigger_key         text NOT NULL,
    title               text NOT NULL,
    payload             jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    acknowledged_at     timestamptz,
    acknowledged_by     bigint REFERENCES users (id) ON DELETE SET NULL,
    UNIQUE (rule_id, bbl, trigger_key)
);
CREATE INDEX alerts_org_feed_idx ON alerts (org_id, created_at DESC);

-- The outbox: written in the alert's transaction, drained by the notifier with retries.
CREATE TABLE notifications (
    id                  bigserial PRIMARY KEY,
    alert_id            bigint REFERENCES alerts (id) ON DELETE CASCADE,
    org_id              bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    channel             text NOT NULL CHECK (channel IN ('email', 'sms', 'slack', 'webhook', 'console')),
    target              text NOT NULL,
    payload             jsonb NOT NULL,
    status              text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
    attempts            integer NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    last_error          text,
    sent_at             timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX notifications_once_idx ON notifications (alert_id, channel, target);
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE status = 'pending';

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    org_id      bigint,
    actor       text NOT NULL,
    action      text NOT NULL,
    target      text,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_id  text
);
CREATE INDEX audit_log_org_idx ON audit_log (org_id, at DESC);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- The scheduler's memory: Ray has no cron, so what ran and when lives here.
CREATE TABLE schedule_runs (
    id          bigserial PRIMARY KEY,
    job         text NOT NULL,
    due_at      timestamptz NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    outcome     text NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'succeeded', 'failed')),
    detail      text,
    UNIQUE (job, due_at)
);
CREATE INDEX schedule_runs_job_idx ON schedule_runs (job, started_at DESC);
