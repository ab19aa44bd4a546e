"""Content hash of a raw record: what the writer compares to decide "changed" or "unchanged"."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Any

import orjson

# Socrata system fields (SODA 2.1 `:*`, v3 `:version`, 2.0 `$$exclude_system_fields=false` extras). The
# hidden `:@computed_region_*` columns are not listed: Socrata drops them when `$order` is given, which every
# fetch does, and when present they derive from the location, so hashing them costs nothing in false changes.
SYSTEM_FIELDS = frozenset(
    {
        ":id",
        ":created_at",
        ":updated_at",
        ":version",
        ":created_meta",
        ":updated_meta",
        ":meta",
        ":sid",
        ":position",
    }
)
_SORTED = orjson.OPT_SORT_KEYS


def content_hash(raw: dict[str, Any], exclude: Collection[str] = ()) -> str:
    """sha256 of the record's canonical JSON (sorted keys), without Socrata's system fields.

    System fields are left out because a publisher's full replace bumps every :updated_at (and :id, :version)
    without changing a value, and that must read as "unchanged". `exclude` drops dataset fields that change on
    every export without meaning anything (DOB complaints' `dobrundate`).
    """
    # Set intersection runs in C; a per-key Python loop would be a third of the normalizer's time.
    dropped = raw.keys() & SYSTEM_FIELDS
    if exclude:
        dropped |= raw.keys() & set(exclude)
    body = raw
    if dropped:
        body = dict(raw)
        for k in dropped:
            del body[k]
    return hashlib.sha256(orjson.dumps(body, option=_SORTED)).hexdigest()
