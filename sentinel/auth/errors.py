"""The two ways a request can fail the security core.

The gateway maps `AuthError` to 401 (who are you?) and `Forbidden` to 403 (you may not). Both carry a short
machine-readable `reason` that is safe to log; what goes back to the client is the gateway's decision
(it should not tell an attacker *why* a token failed beyond "invalid" or "expired").
"""


class AuthError(Exception):
    """The caller could not be authenticated: bad, forged, expired or wrong-type credentials."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Forbidden(Exception):  # noqa: N818 -- the name the gateway and the issue use
    """The caller is authenticated but may not do this (role, scope or organization)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
