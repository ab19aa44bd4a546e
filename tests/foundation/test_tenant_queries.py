"""The core's query modules (what the API routes call) scope every row to the organization they are given: another
organization's portfolio, rule, key or user reads as missing and cannot be changed. Against the real database, in
a transaction that is rolled back."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest

from sentinel.alerts import queries as alert_queries
from sentinel.auth import api_key_store, organizations, users
from sentinel.portfolios import queries as portfolios

pytestmark = pytest.mark.integration

HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"  # never verified here: the column only checks the scheme


@pytest.fixture
def conn(db: psycopg.Connection) -> Iterator[psycopg.Connection]:
    with db.transaction(force_rollback=True):
        yield db


def _org(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "INSERT INTO organizations (name) VALUES (%s) RETURNING id", (f"queries-{secrets.token_hex(4)}",)
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_portfolio_is_seen_and_changed_only_by_its_organization(conn: psycopg.Connection) -> None:
    mine, theirs = _org(conn), _org(conn)
    created = portfolios.create(conn, mine, "North")
    assert created is not None and created.name == "North"
    assert portfolios.create(conn, mine, "North") is None  # one name once per organization
    assert portfolios.create(conn, theirs, "North") is not None
    assert portfolios.is_owned(conn, created.id, mine) and not portfolios.is_owned(conn, created.id, theirs)
    assert portfolios.owned_ids(conn, theirs, [created.id]) == set()
    assert portfolios.head(conn, created.id, theirs) is None
    assert [p["name"] for p in portfolios.list_with_counts(conn, mine)] == ["North"]
    assert not portfolios.delete(conn, created.id, theirs)
    assert portfolios.delete(conn, created.id, mine)
    assert portfolios.list_with_counts(conn, mine) == []


def test_a_taken_email_is_refused_and_the_transaction_goes_on(conn: psycopg.Connection) -> None:
    mine, theirs = _org(conn), _org(conn)
    email = f"{secrets.token_hex(4)}@example.com"
    first = users.create_user(conn, org_id=mine, email=email, password_hash=HASH, role="viewer")
    assert first is not None
    assert users.create_user(conn, org_id=mine, email=email.upper(), password_hash=HASH, role="admin") is None
    # Unique per organization only (migration 0017): the same e-mail opens an account elsewhere.
    other = users.create_user(conn, org_id=theirs, email=email, password_hash=HASH, role="admin")
    assert other is not None
    assert [a.org_id for a in users.accounts_for_login(conn, email.upper(), None)] == [mine, theirs]
    assert [a.id for a in users.accounts_for_login(conn, email, theirs)] == [other["id"]]
    assert users.email_of(conn, first["id"], theirs) is None and users.email_of(conn, first["id"], mine) == email
    assert [u["id"] for u in users.list_users(conn, mine)] == [first["id"]]


def test_an_api_key_is_revoked_once_and_only_by_its_organization(conn: psycopg.Connection) -> None:
    mine, theirs = _org(conn), _org(conn)
    key = api_key_store.create(
        conn,
        org_id=mine,
        user_id=None,
        name="ci",
        prefix=secrets.token_hex(4),
        key_hash="0" * 64,
        scopes=["properties:read"],
        expires_at=None,
    )
    assert api_key_store.revoke(conn, key["id"], theirs) is None
    assert api_key_store.list_for_org(conn, theirs) == []
    revoked = api_key_store.revoke(conn, key["id"], mine)
    assert revoked is not None and revoked["revoked_at"] is not None
    again = api_key_store.revoke(conn, key["id"], mine)
    assert again is not None and again["revoked_at"] == revoked["revoked_at"]


def test_a_key_is_found_by_its_prefix_with_its_creator_as_they_stand_now(conn: psycopg.Connection) -> None:
    org = _org(conn)
    creator = users.create_user(conn, org_id=org, email=f"{secrets.token_hex(4)}@example.com", password_hash=HASH,
                                role="manager")  # fmt: skip
    assert creator is not None
    prefix = secrets.token_hex(4)
    key = api_key_store.create(conn, org_id=org, user_id=creator["id"], name="ci", prefix=prefix, key_hash="1" * 64,
                               scopes=["properties:read"], expires_at=None)  # fmt: skip
    stored = api_key_store.by_prefix(conn, prefix)
    assert stored is not None and stored.id == key["id"] and stored.key_hash == "1" * 64
    state = stored.creator()
    assert state is not None and (state.org_id, state.role.value, state.active) == (org, "manager", True)
    users.update_user(conn, org_id=org, user_id=creator["id"], is_active=False)
    after = api_key_store.by_prefix(conn, prefix)
    state = after.creator() if after is not None else None
    assert state is not None and not state.active  # read now, not as it was when the key was made
    assert api_key_store.by_prefix(conn, "nosuchkey") is None


def test_rules_and_alerts_stay_in_their_organization(conn: psycopg.Connection) -> None:
    mine, theirs = _org(conn), _org(conn)
    values = alert_queries.RuleValues(
        name="new HPD",
        condition={"type": "new_violation"},
        scope={"type": "organization"},
        channels=[],
        delivery="immediate",
        quiet_hours=None,
        cooldown_minutes=0,
        enabled=True,
    )
    rule = alert_queries.create_rule(conn, mine, None, values)
    assert rule["condition"] == {"type": "new_violation"}
    assert alert_queries.get_rule(conn, rule["id"], theirs) is None
    assert alert_queries.replace_rule(conn, rule["id"], theirs, values) is None
    assert not alert_queries.delete_rule(conn, rule["id"], theirs)
    conn.execute(
        "INSERT INTO alerts (rule_id, org_id, bbl, trigger_key, title) VALUES (%s, %s, '1000010001', 'k', 't')",
        (rule["id"], mine),
    )
    assert alert_queries.feed(conn, alert_queries.FeedFilter(org_id=theirs), limit=10) == []
    (alert,) = alert_queries.feed(conn, alert_queries.FeedFilter(org_id=mine, acknowledged=False), limit=10)
    assert alert["kind"] == "event"
    assert alert_queries.acknowledge(conn, alert["id"], theirs, None) is None
    acknowledged = alert_queries.acknowledge(conn, alert["id"], mine, None)
    assert acknowledged is not None and acknowledged["acknowledged_at"] is not None
    assert alert_queries.feed(conn, alert_queries.FeedFilter(org_id=mine, acknowledged=False), limit=10) == []
    assert organizations.timezone_of(conn, mine) == "America/New_York"
    assert organizations.timezone_of(conn, -1) is None
