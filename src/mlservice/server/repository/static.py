"""The repository of a server started without `--model-repository`: the models it was given.

Nothing can be added; `unload` makes a model unready (and so the server) and `load` runs the
model's `load()` again. The Model API has no unload hook, so the model stays in memory.
"""

from __future__ import annotations

from mlservice.errors import Unavailable
from mlservice.server.dataplane import DataPlane
from mlservice.server.repository.entries import READY, UNAVAILABLE, IndexEntry


class StaticRepository:
    def __init__(self, dataplane: DataPlane) -> None:
        self.dataplane = dataplane

    def index(self, *, ready_only: bool = False) -> list[IndexEntry]:
        entries = []
        for name in self.dataplane.model_names:
            model = self.dataplane.model(name)
            if ready_only and not model.ready:
                continue
            state, reason = (READY, "") if model.ready else (UNAVAILABLE, "not loaded, or unloaded")
            entries.append(IndexEntry(name, model.version or "", state, reason))
        return entries

    async def load(self, name: str) -> None:
        if not await self.dataplane.load(name):
            raise Unavailable(f"Model {name} loaded but reports not ready.")

    async def unload(self, name: str) -> None:
        self.dataplane.model(name).ready = False
