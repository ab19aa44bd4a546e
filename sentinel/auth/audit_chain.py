"""Verifying the audit log's hash chain (migration 0016 writes it; `vsentinel audit verify` runs this).

The hashes are recomputed here, in Python, from the stored values, not by the database's own function: a
tampered function or trigger cannot vouch for tampered rows. What a chain alone cannot catch is an owner who
rewrites every link after the one it changed, or drops the newest rows and rewinds the head: the head printed by
`verify` is the anchor to keep elsewhere (a ticket, the deploy log), and `--anchor SEQ:HASH` checks that a
recorded head is still part of the chain.

The hashed fields are listed twice, in audit_chain_hash() (migration 0016) and in `link_hash` with `_LINKS` here: a
column added to audit_log later is covered only once a migration adds it to the first and this module to the
second (for links after that migration).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

GENESIS = bytes(32)

_LINKS = """
    SELECT c.seq, c.audit_id, c.prev_hash, c.row_hash, a.id,
           to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), a.org_id::text, a.actor, a.action, a.target,
           a.details::text, a.request_id
    FROM audit_chain c LEFT JOIN audit_log a ON a.id = c.audit_id
    ORDER BY c.seq
"""
_UNLINKED = """
    SELECT a.id FROM audit_log a WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.audit_id = a.id)
    ORDER BY a.id LIMIT 1
"""


def field(value: str | None) -> bytes:
    if value is None:
        return b"N"
    encoded = value.encode()
    return b"V%d:" % len(encoded) + encoded


def link_hash(prev_hash: bytes, seq: int, fields: Sequence[str | None]) -> bytes:
    """sha256(previous hash || seq, id, at, org_id, actor, action, target, details, request_id), each field
    length-prefixed: the same message the database's audit_chain_hash() builds."""
    message = field(str(seq)) + b"".join(field(value) for value in fields)
    return hashlib.sha256(prev_hash + message).digest()


@dataclass(frozen=True, slots=True)
class Break:
    seq: int | None
    audit_id: int | None
    reason: str

    def __str__(self) -> str:
        where = [f"link {self.seq}" if self.seq is not None else "no link"]
        if self.audit_id is not None:
            where.append(f"audit row {self.audit_id}")
        return f"{', '.join(where)}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ChainReport:
    links: int
    head_seq: int
    head_hash: bytes
    first_break: Break | None
    anchor_found: bool | None = None  # None: no anchor was given

    @property
    def intact(self) -> bool:
        return self.first_break is None and self.anchor_found is not False

    @property
    def head(self) -> str:
        return f"{self.head_seq}:{self.head_hash.hex()}"


@dataclass(slots=True)
class _Walk:
    count: int = 0
    last_seq: int = 0
    last_hash: bytes = GENESIS
    broken: Break | None = None
    hash_at_anchor: bytes | None = None


def walk(links: Iterable[tuple[Any, ...]], anchor_seq: int | None = None) -> _Walk:
    """Checks links in seq order up to the first break."""
    state = _Walk()
    for seq, audit_id, prev_hash, row_hash, row_id, *fields in links:
        prev_hash, row_hash = bytes(prev_hash), bytes(row_hash)
        if seq != state.last_seq + 1:
            gap = f"links {state.last_seq + 1}..{seq - 1} are missing" if seq > state.last_seq else "out of order"
            state.broken = Break(seq, audit_id, gap)
        elif prev_hash != state.last_hash:
            state.broken = Break(seq, audit_id, "does not follow the previous link")
        elif row_id is None:
            state.broken = Break(seq, audit_id, "the audit row was deleted")
        elif link_hash(prev_hash, seq, [str(row_id), *fields]) != row_hash:
            state.broken = Break(seq, audit_id, "the audit row was changed")
        if state.broken:
            return state
        state.count, state.last_seq, state.last_hash = state.count + 1, seq, row_hash
        if seq == anchor_seq:
            state.hash_at_anchor = row_hash
    return state


def verify(conn: psycopg.Connection, anchor: tuple[int, bytes] | None = None) -> ChainReport:
    """Walks the whole chain in one read-only snapshot and reports the first broken link, if any."""
    fresh = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with conn.transaction():
        if fresh:  # else the caller's transaction (and snapshot) is used as it is
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        with conn.cursor(name="audit_chain_walk") as cursor:
            cursor.itersize = 5000
            cursor.execute(_LINKS)
            state = walk(cursor, anchor[0] if anchor else None)
        head = conn.execute("SELECT seq, row_hash FROM audit_chain_head").fetchone()
        unlinked = conn.execute(_UNLINKED).fetchone()
    broken = state.broken
    if broken is None and unlinked is not None:
        broken = Break(None, unlinked[0], "the audit row is not in the chain (written with the triggers off)")
    if broken is None and (head is None or (head[0], bytes(head[1])) != (state.last_seq, state.last_hash)):
        shown = f"{head[0]}:{bytes(head[1]).hex()}" if head else "missing"
        broken = Break(state.last_seq, None, f"the chain ends at link {state.last_seq}, but its head says {shown}")
    found = None if anchor is None else state.hash_at_anchor == anchor[1]
    return ChainReport(state.count, state.last_seq, state.last_hash, broken, found)


def parse_anchor(text: str) -> tuple[int, bytes]:
    seq, _, digest = text.partition(":")
    try:
        parsed = int(seq), bytes.fromhex(digest)
    except ValueError:
        raise ValueError(f"an anchor is SEQ:HASH as `vsentinel audit verify` prints it, not {text!r}") from None
    if len(parsed[1]) != 32:
        raise ValueError("the anchor's hash must be 64 hex digits")
    return parsed
