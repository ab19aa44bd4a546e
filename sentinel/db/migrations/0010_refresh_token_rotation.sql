-- Refresh tokens are single use (rotation): exchanging one for new tokens, or logging out with it, spends its
-- jti here, and a spent token presented again is refused. Presenting a token that was already exchanged means
-- it was copied, so every session of that user ends: tokens issued before `users.sessions_valid_after` are
-- refused. Rows whose token has expired are useless and may be deleted.
CREATE TABLE spent_refresh_tokens (
    jti         text PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason      text NOT NULL CHECK (reason IN ('rotated', 'logout')),
    spent_at    timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX spent_refresh_tokens_expires_idx ON spent_refresh_tokens (expires_at);

ALTER TABLE users ADD COLUMN sessions_valid_after timestamptz;
