"""The API runs as the application role: it serves and audits as before, and what it audits is chained."""

from __future__ import annotations

import psycopg

from sentinel.auth.audit_chain import verify
from sentinel.db.roles import audit_log_exposure
from tests.api.conftest import P_BUSY, Api


def test_the_api_runs_as_the_application_role_and_its_audit_rows_are_chained(api: Api) -> None:
    with api.deps.pool.connection() as conn:
        role = conn.execute("SELECT current_user").fetchone()[0]
        exposure = audit_log_exposure(conn)
        mark = conn.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0]
    assert role.endswith("_app") and exposure == []

    with api.as_("alpha", "admin") as admin:
        created = admin.post("/v1/auth/api-keys", json={"name": "roles", "scopes": ["properties:read"]})
        assert created.status_code == 201, created.text
        assert admin.delete(f"/v1/auth/api-keys/{created.json()['id']}").status_code == 200
        assert admin.get(f"/v1/properties/{P_BUSY}").status_code == 200

    with psycopg.connect(api.database_url) as conn:
        audited = conn.execute(
            "SELECT a.action, c.seq IS NOT NULL FROM audit_log a LEFT JOIN audit_chain c ON c.audit_id = a.id"
            " WHERE a.id > %s ORDER BY a.id",
            (mark,),
        ).fetchall()
        report = verify(conn)
    assert ("api_key.create", True) in audited and ("api_key.revoke", True) in audited
    assert all(linked for _, linked in audited)
    assert report.intact, report.first_break
