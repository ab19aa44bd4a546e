"""The manifest of a backup: what it holds, with a sha256 and a size per file, and what made it."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field

FORMAT = 1
DATABASE_FILE = "database.dump"
MODELS_DIR = "models"


class FileEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str  # relative to the backup folder, '/'-separated
    sha256: str
    size: int


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    format: int = FORMAT
    id: str
    created_at: datetime  # when the database snapshot was taken (UTC)
    database: str
    schema_version: int | None  # the latest migration applied to the database
    server_version: str
    model_dir: str  # where the artifacts were: the registry's artifact paths may name it
    files: list[FileEntry]
    tools: dict[str, str] = Field(default_factory=dict)
    duration_s: float = 0.0

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=2).encode()

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def model_files(self) -> list[FileEntry]:
        return [f for f in self.files if f.name.startswith(f"{MODELS_DIR}/")]


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def entry_for(root: Path, name: str) -> FileEntry:
    path = root / name
    return FileEntry(name=name, sha256=sha256_of(path), size=path.stat().st_size)


def safe_name(name: str) -> PurePosixPath:
    """A manifest's file name as a relative path that cannot leave the folder it is restored into."""
    path = PurePosixPath(name)
    if path.is_absolute() or not path.parts or any(part in ("..", "") for part in path.parts):
        raise ValueError(f"unsafe file name in manifest: {name!r}")
    return path
