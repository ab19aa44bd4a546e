"""Small, explicit city data and accounts for the API tests."""

from __future__ import annotations

import hashlib
import itertools
from datetime import date
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from sentinel.address import address_key
from sentinel.auth.organizations import create_organization
from sentinel.auth.passwords import hash_password

PASSWORD = "correct horse battery staple"
_ids = itertools.count(1)


def add_property(conn: psycopg.Connection[Any], bbl: str, address: str, bins: tuple[str, ...] = ()) -> None:
    borough, block, lot = int(bbl[0]), int(bbl[1:6]), int(bbl[6:])
    conn.execute(
        "INSERT INTO properties (bbl, borough, block, lot, address, address_key, zip, units_res, year_built) "
        "VALUES (%s, %s, %s, %s, %s, %s, '10001', 12, 1925) ON CONFLICT (bbl) DO NOTHING",
        (bbl, borough, block, lot, address, address_key(address)),  # as ingestion keys PLUTO's lots
    )
    for bin_ in bins:
        conn.execute(
            "INSERT INTO buildings (bin, bbl, borough) VALUES (%s, %s, %s) ON CONFLICT (bin) DO NOTHING",
            (bin_, bbl, borough),
        )


def add_bulk_violations(conn: psycopg.Connection[Any], rows: int) -> None:
    """`rows` open class B HPD violations over 20,000 lots, generated in the database (exports and their
    benchmark need many rows, fast)."""
    conn.execute(
        "INSERT INTO violations (source, source_id, bbl, borough, class, severity, status, issued_date, "
        "description, raw, content_hash) "
        "SELECT 'HPD', 'bulk-' || g, '1' || (100000000 + g %% 20000)::text, 1, 'B', 'hazardous', 'open', "
        "DATE '2026-01-01' + (g %% 300), 'PAINT/PLASTER ' || repeat('x', 120), '{}'::jsonb, md5(g::text) "
        "FROM generate_series(1, %s) g",
        (rows,),
    )


def add_violation(
    conn: psycopg.Connection[Any],
    bbl: str,
    *,
    source: str = "HPD",
    klass: str = "B",
    status: str = "open",
    issued: date = date(2026, 10, 1),
    certify_by: date | None = None,
    imposed: float | None = None,
    paid: float | None = None,
    balance: float | None = None,
) -> int:
    source_id = f"t{next(_ids)}-{bbl}"
    severity = "immediately_hazardous" if klass == "C" else "hazardous"
    row = conn.execute(
        "INSERT INTO violations (source, source_id, bbl, borough, class, severity, status, issued_date, "
        "certify_by_date, penalty_imposed, amount_paid, balance_due, raw, content_hash) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            source, source_id, bbl, int(bbl[0]), klass, severity, status, issued, certify_by,
            imposed, paid, balance, Jsonb({}), hashlib.sha256(source_id.encode()).hexdigest(),
        ),
    ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


def add_complaint(conn: psycopg.Connection[Any], bbl: str, *, received: date = date(2026, 10, 5)) -> None:
    source_id = f"c{next(_ids)}-{bbl}"
    conn.execute(
        "INSERT INTO complaints (source, source_id, bbl, borough, category, status, received_date, raw, content_hash) "
        "VALUES ('311', %s, %s, %s, 'HEAT/HOT WATER', 'open', %s, %s, %s)",
        (source_id, bbl, int(bbl[0]), received, Jsonb({}), hashlib.sha256(source_id.encode()).hexdigest()),
    )


def add_user(conn: psycopg.Connection[Any], org_id: int, email: str, role: str) -> int:
    row = conn.execute(
        "INSERT INTO users (org_id, email, password_hash, role) VALUES (%s, %s, %s, %s) RETURNING id",
        (org_id, email, hash_password(PASSWORD), role),
    ).fetchone()
    assert row is not None
    return int(row[0])


def add_org(conn: psycopg.Connection[Any], name: str) -> tuple[int, dict[str, str]]:
    """An organization with one user of each login role; returns (org_id, role -> email)."""
    admin = f"admin@{name}.test"
    org_id, _ = create_organization(conn, name=name, admin_email=admin, admin_password=PASSWORD)
    emails = {"admin": admin}
    for role in ("manager", "viewer"):
        emails[role] = f"{role}@{name}.test"
        add_user(conn, org_id, emails[role], role)
    conn.commit()
    return org_id, emails
