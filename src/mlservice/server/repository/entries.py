"""What the V2 repository extension says about each model, and the states it uses (Triton's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

READY = "READY"
UNAVAILABLE = "UNAVAILABLE"
LOADING = "LOADING"
UNLOADING = "UNLOADING"


@dataclass(frozen=True, slots=True)
class IndexEntry:
    name: str
    version: str
    state: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name, "state": self.state}
        if self.version:
            doc["version"] = self.version
        if self.reason:
            doc["reason"] = self.reason
        return doc


class Repository(Protocol):
    """The three operations of the V2 repository extension, for the REST and gRPC adapters."""

    def index(self, *, ready_only: bool = False) -> list[IndexEntry]: ...

    async def load(self, name: str) -> None: ...

    async def unload(self, name: str) -> None: ...
