"""Finding the API, its token and the gateway the way `mls` does."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlservice.home import Home

DEFAULT_API = "http://127.0.0.1:8787"
DEFAULT_GATEWAY = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Endpoints:
    """Where the API and gateway are, and the API token."""

    api: str
    token: str | None
    gateway: str | None
    domain: str

    @classmethod
    def resolve(
        cls,
        api: str | None = None,
        *,
        token: str | None = None,
        home: Home | str | Path | None = None,
        gateway: str | None = None,
    ) -> Endpoints:
        """Arguments win, then `MLS_API` / `MLS_TOKEN`, then what `mls up` recorded in the data
        dir (`endpoints.json`, `token`), then the defaults."""
        where = home if isinstance(home, Home) else Home.from_env(home)
        recorded = _read_json(where.endpoints)
        token = token or os.environ.get("MLS_TOKEN") or _read_text(where.token)
        if gateway is None:
            # Recorded but null means `mls up` runs no gateway, rather than "use the default".
            gateway = recorded.get("gateway", DEFAULT_GATEWAY)
        api = api or os.environ.get("MLS_API") or recorded.get("api") or DEFAULT_API
        return cls(
            api=api.rstrip("/"),
            token=token,
            gateway=gateway.rstrip("/") if gateway else None,
            domain=str(recorded.get("domain") or "localhost"),
        )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None
