"""Per-account login throttling with backoff, on the shared rate limiter (sentinel.auth.ratelimit).

Only wrong passwords are counted, in two places: per (account, client address), in tiers that each make the next
wait longer (`login_failures_per_client`, by default 5 a minute, 10 in 15 minutes, 20 an hour), and per account from
any address (`login_failures_per_account`), which stops guessing spread over many addresses. A throttled attempt is
refused (429 with Retry-After) before the password is checked, and is not counted: one client hammering an account
therefore stops at its own tier limits and never moves the account-wide count far, so the owner, logging in from
elsewhere, is not locked out by it, and nobody else is either. A good password clears the (account, address)
windows. The account is keyed by a hash of the lower-cased e-mail, known or not (no Redis key names an e-mail,
and unknown accounts behave like known ones).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from limits import RateLimitItem, parse_many

from deployments.api.deps import Deps
from sentinel.auth.ratelimit import RateLimitResult


@lru_cache(maxsize=32)
def _tiers(text: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(text))


def account_key(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


def _windows(deps: Deps, account: str, ip: str) -> list[tuple[RateLimitItem, str, bool]]:
    """(limit, key, cleared by a success) for every window an attempt is checked against."""
    settings = deps.settings
    per_client = [(item, f"login:client:{account}:{ip}", True) for item in _tiers(settings.login_failures_per_client)]
    per_account = [(item, f"login:account:{account}", False) for item in _tiers(settings.login_failures_per_account)]
    return per_client + per_account


def throttled(deps: Deps, account: str, ip: str) -> RateLimitResult | None:
    """The refusal with the longest wait, or None when a login may be tried now."""
    refused = [r for item, key, _ in _windows(deps, account, ip) if not (r := deps.limiter.peek(item, key)).allowed]
    return max(refused, key=lambda r: r.retry_after) if refused else None


def record_failure(deps: Deps, account: str, ip: str) -> None:
    for item, key, _ in _windows(deps, account, ip):
        deps.limiter.hit(item, key)


def record_success(deps: Deps, account: str, ip: str) -> None:
    for item, key, cleared in _windows(deps, account, ip):
        if cleared:
            deps.limiter.clear(item, key)
