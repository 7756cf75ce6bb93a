"""The data dir (`$MLS_HOME`, default `~/.mlservice`) and what lives where inside it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Home:
    """Paths under one data dir. Creating directories is the caller's job, when it needs them."""

    root: Path

    @classmethod
    def from_env(cls, override: str | os.PathLike[str] | None = None) -> Home:
        """`override` (`mls up --home`) beats `$MLS_HOME`, which beats `~/.mlservice`."""
        raw = override or os.environ.get("MLS_HOME") or Path.home() / ".mlservice"
        return cls(Path(raw).expanduser().resolve())

    @property
    def state_db(self) -> Path:
        return self.root / "state.db"

    @property
    def token(self) -> Path:
        return self.root / "token"

    @property
    def endpoints(self) -> Path:
        return self.root / "endpoints.json"

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    def volume(self, name: str) -> Path:
        return self.volumes / name

    @property
    def model_cache(self) -> Path:
        return self.root / "cache" / "models"

    @property
    def replicas(self) -> Path:
        return self.root / "replicas"

    @property
    def request_logs(self) -> Path:
        return self.root / "logs" / "requests"
