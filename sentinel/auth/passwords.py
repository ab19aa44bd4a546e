"""Password hashing with argon2id (argon2-cffi).

The defaults of `argon2.PasswordHasher` are RFC 9106's "low memory" profile (argon2id, t=3, m=64 MiB, p=4),
a fraction of a second per hash on a small machine: slow enough to make offline guessing expensive, fast enough
for a login endpoint. Raising the parameters later is safe: `needs_rehash` tells the login path to
re-hash with the new ones after a successful verify.
"""

from contextlib import suppress
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

DEFAULT_HASHER = PasswordHasher()


def hash_password(password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    """An encoded `$argon2id$...` string, which is what the users.password_hash CHECK expects."""
    return hasher.hash(password)


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    # Same parameters as real hashes, so verifying against it costs the same time as a real verify.
    return hasher.hash("not-a-real-password: timing equalizer for unknown users")


def verify_password(password: str, stored_hash: str | None, hasher: PasswordHasher = DEFAULT_HASHER) -> bool:
    """True when `password` matches `stored_hash`.

    Pass `stored_hash=None` for an unknown (or inactive) user: the password is still verified, against a dummy
    hash, so a login for a missing email takes as long as a wrong password and response time does not reveal
    which emails have accounts. A corrupt stored hash counts as a mismatch rather than a 500.
    """
    if stored_hash is None:
        with suppress(VerificationError):
            hasher.verify(_dummy_hash(hasher), password)
        return False
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, hasher: PasswordHasher = DEFAULT_HASHER) -> bool:
    """True when the hash was made with other parameters than `hasher`'s: re-hash on the next good login."""
    return hasher.check_needs_rehash(stored_hash)
