"""Settings: one pydantic-settings class, read once from `VS_*` variables, `.env` and configs/*.yaml.

Precedence (highest first): explicit keyword arguments, `VS_*` environment variables, `.env`, the YAML file named
by `VS_CONFIG_FILE` (default configs/settings.yaml), field defaults. A bad value stops the program at start with a
message that names the variable and what is wrong (see `load_settings`).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

import platformdirs
import yaml
from pydantic import Field, PostgresDsn, RedisDsn, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "configs"
ENV_PREFIX = "VS_"


class SettingsError(Exception):
    """Raised with a readable, variable-by-variable explanation of what is wrong."""


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("violation-sentinel", appauthor=False))


class FileBackedSettings(BaseSettings):
    """Settings from the environment over a YAML file: configs/settings.yaml (or the file `file_variable` names),
    the whole file or its `file_section`. A settings class that reads a file subclasses this rather than repeating
    pydantic-settings' override."""

    file_section: ClassVar[str | None] = None
    file_variable: ClassVar[str] = f"{ENV_PREFIX}CONFIG_FILE"
    default_file: ClassVar[Path] = CONFIG_DIR / "settings.yaml"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = Path(os.environ.get(cls.file_variable, cls.default_file))
        sources = (init_settings, env_settings, dotenv_settings)
        if not yaml_file.exists():
            return sources
        return (
            *sources,
            YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file, yaml_config_section=cls.file_section),
        )


class Settings(FileBackedSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    # Where things live. Unset URLs mean "start the embedded server" (see sentinel.embedded).
    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: PostgresDsn | None = None
    # The owner login that runs migrations; VS_DATABASE_URL is then the application role's login (README,
    # "Database roles and the audit log"). Unset: migrations use VS_DATABASE_URL, and the app runs as the owner.
    database_owner_url: PostgresDsn | None = None
    redis_url: RedisDsn | None = None
    model_dir: Path | None = None
    # Where models and reports are stored (sentinel/artifact_store.py): s3://bucket/prefix, file:///path or a path;
    # on a multi-node cluster a place every node reads. Unset: the model directory on this machine.
    artifact_store: str | None = None

    # Ray: an address connects to an existing cluster; none starts a local Ray sized for a small machine.
    ray_address: str | None = None
    ray_num_cpus: int = Field(default=4, ge=1, le=1024)
    ray_object_store_mb: int = Field(default=400, ge=75)
    ray_dashboard_port: int = Field(default=8265, ge=0, le=65535)
    ray_include_dashboard: bool = True
    # Where Ray Tune and Train keep trial results and checkpoints: a path (made absolute) or s3://bucket/prefix. On a
    # multi-node cluster every node writes there, so a bucket, or a folder every node mounts at the same path (NFS,
    # EFS). A string, not a Path: Path("s3://b/p") is "s3:/b/p". Unset: VS_DATA_DIR/ray_results.
    ray_storage: str | None = None
    # How HTTP reaches the Serve gateway on a locally started Ray: "haproxy" (Ray's bundled HAProxy in front of
    # the gateway replicas, which then answer HTTP themselves) or "proxy" (Serve's Python HTTP proxy actor).
    serve_ingress: Literal["haproxy", "proxy"] = "haproxy"
    serve_http_port: int = Field(default=8000, ge=0, le=65535)

    # NYC Open Data.
    socrata_url: str = "https://data.cityofnewyork.us"
    socrata_app_token: str | None = None
    # Where `vsentinel ingest` runs its stages: "ray" (actors on the connected Ray; the scheduler always does) or
    # "local" (this machine's processes, no Ray: a one-off load on one machine, cluster/ingest.py).
    ingest_engine: Literal["ray", "local"] = "ray"
    # The ingestion pipeline's shape (sentinel/ingest/flow.py PipelineShape): worker processes and requests in flight.
    ingest_fetchers: int = Field(default=1, ge=1, le=64)
    ingest_fetch_threads: int = Field(default=2, ge=1, le=32)
    ingest_normalizers: int = Field(default=2, ge=1, le=5)
    ingest_writers: int = Field(default=1, ge=1, le=64)
    ingest_write_connections: int = Field(default=2, ge=1, le=16)
    ingest_page_size: int = Field(default=10_000, ge=100, le=50_000)
    # Guards (sentinel/ingest/pipeline.py Guards): a run that would tombstone more than this share of a dataset's
    # live records holds its deletions back and is 'partial'; a dataset rejecting more than this share is 'failed'.
    ingest_max_delete_share: float = Field(default=0.10, ge=0.0, le=1.0)
    ingest_max_reject_share: float = Field(default=0.05, ge=0.0, le=1.0)
    # A full-replace dataset declared with `partial_read` (configs/datasets.yaml) is read whole again once its
    # last whole read is this many days old; between, daily runs read only what can have changed.
    ingest_whole_read_days: int = Field(default=7, ge=1, le=365)

    # Chunks of changed buildings `rescore_changed` scores at once, each on its own connection
    # (sentinel/risk/service.py).
    rescore_workers: int = Field(default=2, ge=1, le=16)
    # Ranges of lots `score_all` scores at once when scoring every building, each a feature query on its own
    # connection (sentinel/risk/service.py).
    score_workers: int = Field(default=2, ge=1, le=16)

    # Seals each organization's webhook signing secret at rest (sentinel/crypto.py): 32 random bytes, urlsafe
    # base64. Without it organizations cannot have their own secret and VS_WEBHOOK_SECRET signs for all.
    secrets_key: SecretStr | None = None

    # Pool and logging.
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=8, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    # Where the CLI logs: "file" (VS_DATA_DIR/logs/vsentinel.log; warnings also on stderr) or "stderr" (all of it,
    # as `--log-json` asks). Servers always log to stderr.
    log_to: Literal["file", "stderr"] = "file"

    # Secrets for the API (issue 6); the demo sets its own, production must set it.
    jwt_secret: str | None = None

    @field_validator("socrata_url")
    @classmethod
    def _socrata_url_has_scheme(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("secrets_key")
    @classmethod
    def _secrets_key_is_a_key(cls, value: SecretStr | None) -> SecretStr | None:
        from sentinel.crypto import parse_key

        if value is not None:
            parse_key(value.get_secret_value())
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _jwt_secret_is_strong(cls, value: str | None) -> str | None:
        # Checked here so a weak secret stops the program at start; pyjwt would refuse a short one at the first
        # login instead (a 500 for every login).
        if value is not None:
            from sentinel.auth.strength import check_signing_secret

            check_signing_secret(value)
        return value

    @field_validator("db_pool_max")
    @classmethod
    def _pool_max_not_below_min(cls, value: int, info: Any) -> int:
        if value < info.data.get("db_pool_min", 0):
            raise ValueError("must be >= VS_DB_POOL_MIN")
        return value

    @field_validator("database_owner_url")
    @classmethod
    def _owner_url_needs_app_url(cls, value: PostgresDsn | None, info: Any) -> PostgresDsn | None:
        if value is not None and info.data.get("database_url") is None:
            raise ValueError("needs VS_DATABASE_URL (the application role's login) beside it")
        return value

    @field_validator("artifact_store")
    @classmethod
    def _artifact_store_is_a_place(cls, value: str | None) -> str | None:
        from sentinel.artifact_store import SCHEMES

        scheme = value.partition("://")[0] if value and "://" in value else ""
        if scheme and scheme not in SCHEMES:
            raise ValueError(f"must be a path or an {' or '.join(f'{s}://' for s in SCHEMES)} URI")
        return value

    @field_validator("ray_storage")
    @classmethod
    def _ray_storage_is_a_place(cls, value: str | None) -> str | None:
        from sentinel.artifact_store import storage_uri

        return None if value is None else storage_uri(value)

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "vsentinel.log"

    @property
    def resolved_model_dir(self) -> Path:
        return self.model_dir or self.data_dir / "models"

    @property
    def resolved_ray_storage(self) -> str:
        """An absolute path or an s3:// URI, as Ray Tune and Train take it (`storage_path`)."""
        return self.ray_storage or str((self.data_dir / "ray_results").absolute())

    @property
    def artifact_root(self) -> str:
        """The artifact store's root: VS_ARTIFACT_STORE, else the model directory."""
        return self.artifact_store or str(self.resolved_model_dir)

    @property
    def artifact_cache_dir(self) -> Path:
        return self.data_dir / "artifact-cache"


def explain(error: ValidationError) -> str:
    """Turns a pydantic error into lines like `VS_RAY_NUM_CPUS='x': Input should be a valid integer`."""
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        variable = f"{ENV_PREFIX}{field.upper()}"
        given = item.get("input")
        secret = any(word in field for word in ("secret", "password", "token"))
        shown = f"={given!r}" if isinstance(given, str | int | float) and not secret else ""
        lines.append(f"{variable}{shown}: {item['msg']}")
    return "invalid settings:\n  " + "\n  ".join(lines)


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(explain(error)) from None
    except yaml.YAMLError as error:
        raise SettingsError(f"invalid settings file: {error}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
