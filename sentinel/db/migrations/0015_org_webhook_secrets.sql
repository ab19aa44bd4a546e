-- Each organization's webhook signing secret. It must be readable to sign (HMAC needs the secret itself, a hash
-- would not do), so it is stored sealed with AES-256-GCM under VS_SECRETS_KEY (sentinel/crypto.py), bound to its
-- organization: a database dump or a read-only SQL hole does not hand out the means to forge signed events.
-- After a rotation the previous secret keeps signing (beside the new one) until `previous_until`, so receivers
-- can switch without dropping events.
CREATE TABLE org_webhook_secrets (
    org_id          bigint PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    secret_sealed   bytea NOT NULL,
    previous_sealed bytea,
    previous_until  timestamptz,
    rotated_at      timestamptz NOT NULL DEFAULT now(),
    rotated_by      bigint REFERENCES users (id) ON DELETE SET NULL,
    CHECK ((previous_sealed IS NULL) = (previous_until IS NULL))
);
