-- Every authenticated request compares the generation in its token with the user's current one (through a cache of
-- a few seconds): bumping it ends every session of the user at once, access tokens included, on every replica.
-- It is bumped when the user is deactivated or reactivated, changes role or organization, has the password changed
-- or reset, logs out everywhere, or has a refresh token replayed. Tokens issued before this column carry none and
-- count as generation 0.
ALTER TABLE users ADD COLUMN session_generation integer NOT NULL DEFAULT 0;
