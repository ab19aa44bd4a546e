"""Print the running API's /openapi.json (a uvicorn engine on a scratch database); `npm run api-types` types it.

.venv/bin/python web/scripts/openapi.py > web/openapi.json
"""

from __future__ import annotations

import secrets
import sys

import httpx

from deployments.api.app import create_app
from deployments.api.local import local_deps
from sentinel.db import migrate
from tests.api.servers import running
from tests.conftest import LOCAL_PG, create_database, database_url_for, drop_database

name = create_database(LOCAL_PG, "vs_openapi")
try:
    url = database_url_for(LOCAL_PG, name)
    migrate.upgrade(url)
    deps = local_deps(database_url=url, redis_url=None, jwt_secret=secrets.token_hex(32))
    with running(create_app(deps)) as base:
        sys.stdout.write(httpx.get(f"{base}/openapi.json", timeout=30).text)
    deps.close()
finally:
    drop_database(LOCAL_PG, name)
