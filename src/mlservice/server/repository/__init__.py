"""A model repository: one folder per model, loaded and unloaded while the server runs.

`store.ModelRepository` serves `mls serve --model-repository DIR`; `static.StaticRepository`
gives a server started with one model folder the same V2 repository API over what it has.
"""

from __future__ import annotations

from mlservice.server.dataplane import DataPlane
from mlservice.server.repository.entries import IndexEntry, Repository
from mlservice.server.repository.static import StaticRepository


def repository_of(dataplane: DataPlane) -> Repository:
    """The repository the V2 repository API works on for this data plane."""
    if dataplane.repository is not None:
        return dataplane.repository
    return StaticRepository(dataplane)


__all__ = ["IndexEntry", "Repository", "StaticRepository", "repository_of"]
