"""How guessable a password or a signing secret is, by zxcvbn (Dropbox's estimator, maintained in Python as
`zxcvbn`). It ships its own lists, so nothing is fetched: the 30,000 most common passwords of a leaked corpus,
English words, names and TV/film words, plus keyboard walks, sequences, repeats, dates and l33t substitutions.

A password must have 12 to 128 characters and a zxcvbn score of at least 3 ("safely unguessable": about 10^8
guesses or more), with the account's own e-mail and organization name counted as known words. zxcvbn reads at
most 72 characters; a longer password is judged by its first 72.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
MIN_PASSWORD_SCORE = 3
MIN_SECRET_BYTES = 32
# About 80 bits. 32 random URL-safe characters estimate at 10^30 or more; 32 random hex digits at 10^27.7 or
# more (3,000 samples); a phrase of words, a repeat or a sequence of the same length at 10^2-10^28.
MIN_SECRET_GUESSES_LOG10 = 24
_ESTIMATOR_MAX_CHARS = 72


class WeakPasswordError(ValueError):
    def __init__(self, message: str, suggestions: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.suggestions = suggestions or []


def _context_words(user_inputs: Iterable[str]) -> list[str]:
    words: list[str] = []
    for value in user_inputs:
        words.append(value.lower())
        words += [part for part in re.split(r"[^a-z0-9]+", value.lower()) if len(part) >= 3]
    return words


def check_password(password: str, *, user_inputs: Iterable[str] = ()) -> None:
    """Raises WeakPasswordError with a message a person can act on; `user_inputs`: the e-mail, organization name."""
    from zxcvbn import zxcvbn  # its word lists load on first use, not at import of every API process

    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPasswordError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    result = zxcvbn(password[:_ESTIMATOR_MAX_CHARS], user_inputs=_context_words(user_inputs))
    if result["score"] >= MIN_PASSWORD_SCORE:
        return
    feedback = result["feedback"]
    warning = str(feedback.get("warning") or "").rstrip(".")
    reason = f": {warning[0].lower()}{warning[1:]}" if warning else ""
    suggestions = [str(s) for s in feedback.get("suggestions") or []]
    if not suggestions:
        suggestions = ["Use a few uncommon words, or a password manager's random password."]
    raise WeakPasswordError(f"the password is too easy to guess{reason}", suggestions)


def check_signing_secret(secret: str, variable: str = "VS_JWT_SECRET") -> None:
    """Raises ValueError naming `variable` when the secret is short or guessable (a word, a repeat, a sequence)."""
    from zxcvbn import zxcvbn

    advice = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
    size = len(secret.encode())
    if size < MIN_SECRET_BYTES:
        raise ValueError(f"{variable} must be at least {MIN_SECRET_BYTES} bytes (it has {size}); {advice}")
    if zxcvbn(secret[:_ESTIMATOR_MAX_CHARS])["guesses_log10"] < MIN_SECRET_GUESSES_LOG10:
        raise ValueError(f"{variable} is guessable (a common word, a repeat or a sequence), not random; {advice}")
