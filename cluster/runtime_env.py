"""The runtime environment a driver gives its Ray job on a cluster: the settings it resolved, as `VS_*` variables.

A driver that joins a cluster (`VS_RAY_ADDRESS`) passes its settings to every task, actor and Serve replica of its
job through `ray.init(runtime_env=...)`, so they need not be in the environment of the nodes' `ray start`. Secrets
travel only as environment variables of the job (never a file: `--working-dir .` uploads the directory, so a `.env`
there would be copied to the cluster's storage; .gitignore keeps it out, and nothing here writes one).

What is left out: the schema owner's login (`VS_DATABASE_OWNER_URL` runs migrations from the driver and never
reaches the nodes, README "Database roles and the audit log") and paths that mean something only on this machine
(`VS_DATA_DIR`, `VS_MODEL_DIR`, `VS_CONFIG_FILE`, `VS_TRAIN_CONFIG_FILE`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from sentinel.artifact_store import S3_ENVIRONMENT
from sentinel.settings import ENV_PREFIX, Settings

DRIVER_ONLY = frozenset(
    {"VS_DATABASE_OWNER_URL", "VS_DATA_DIR", "VS_MODEL_DIR", "VS_CONFIG_FILE", "VS_TRAIN_CONFIG_FILE"}
)
# Object storage credentials and endpoint (boto3 and pyarrow read these names) for an s3:// artifact store or Ray
# storage: without the endpoint a node's processes would ask AWS itself for a bucket of an S3-compatible server.
PASSED_THROUGH = S3_ENVIRONMENT


def settings_env(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`VS_*` variables for the cluster's processes: this process's own, plus what `settings` resolved from files."""
    environ = os.environ if environ is None else environ
    env = {k: v for k, v in environ.items() if k.startswith(ENV_PREFIX) and k not in DRIVER_ONLY}
    env.update({k: environ[k] for k in PASSED_THROUGH if environ.get(k)})
    # Every setting the driver resolved from `.env`, the settings file or its arguments goes as its value: a node's
    # processes may run from another folder, with no `.env` and another (or no) settings file.
    for field in sorted(settings.model_fields_set):
        name, value = f"{ENV_PREFIX}{field.upper()}", getattr(settings, field)
        if value is None or name in DRIVER_ONLY:
            continue
        secret = getattr(value, "get_secret_value", None)
        env[name] = secret() if secret else _as_variable(value)
    return env


def _as_variable(value: Any) -> str:
    """A value as pydantic-settings reads it back from an environment variable."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def driver_runtime_env(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The job-level runtime environment of a driver that joins a cluster."""
    return {"env_vars": settings_env(settings, environ)}
