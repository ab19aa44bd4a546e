"""Refresh-token sessions: each refresh token is good for one exchange (rotation, as the OAuth 2.0 security
best current practice recommends for tokens held by clients), logout spends it, and a replayed token ends every
session of its user. Access tokens are short-lived (15 minutes) and checked on every request against the user's
session generation (sentinel.auth.user_state), which ending every session bumps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import psycopg

from sentinel.auth.tokens import TokenClaims

SpendReason = Literal["rotated", "logout"]


def spend(conn: psycopg.Connection[Any], claims: TokenClaims, reason: SpendReason) -> SpendReason | None:
    """Marks the refresh token used; None if it was not yet, else how it was spent before. A token that was
    exchanged before is a copy in someone else's hands; one logged out before is only dead."""
    row = conn.execute(
        "INSERT INTO spent_refresh_tokens (jti, user_id, reason, expires_at) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (jti) DO NOTHING RETURNING 1",
        (claims.jti, claims.user_id, reason, claims.expires_at),
    ).fetchone()
    if row is not None:
        return None
    earlier = conn.execute("SELECT reason FROM spent_refresh_tokens WHERE jti = %s", (claims.jti,)).fetchone()
    return earlier[0] if earlier else reason


def end_all_sessions(conn: psycopg.Connection[Any], user_id: int, now: datetime) -> None:
    """Every token of the user issued up to `now` stops working: access tokens through the session generation
    (checked on every request), refresh tokens through it and `sessions_valid_after` (tokens from before
    generations existed). Tokens carry whole-second `iat`, so the cut takes the whole second: a token issued in
    that second is refused too (the safe side). The caller drops the cached user state after the commit."""
    conn.execute(
        "UPDATE users SET sessions_valid_after = %s, session_generation = session_generation + 1 WHERE id = %s",
        (now.replace(microsecond=0), user_id),
    )


def session_ended(claims: TokenClaims, sessions_valid_after: datetime | None) -> bool:
    return sessions_valid_after is not None and claims.issued_at <= sessions_valid_after
