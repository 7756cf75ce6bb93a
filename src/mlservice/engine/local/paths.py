"""Where a replica's files live under `Home.replicas`.

replicas/<namespace>/<revision>/storage-initializer.log   written by the controller's
                                                          storage step, shared by replicas
replicas/<namespace>/<revision>/<replica>/owner.json       the engine that runs it
replicas/<namespace>/<revision>/<replica>/<container>.log  stdout + stderr
replicas/<namespace>/<revision>/<replica>/<container>.pid  pid + start time while it runs
replicas/<namespace>/<revision>/<replica>/<container>/     default working dir
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlservice.home import Home

STORAGE_INITIALIZER = "storage-initializer"


def revision_dir(home: Home, namespace: str, revision: str) -> Path:
    return home.replicas / namespace / revision


def storage_log(home: Home, namespace: str, revision: str) -> Path:
    """The storage-initializer log of a revision; the controller writes it before `ensure`."""
    return revision_dir(home, namespace, revision) / f"{STORAGE_INITIALIZER}.log"


@dataclass(frozen=True)
class ReplicaDir:
    root: Path

    @property
    def owner(self) -> Path:
        return self.root / "owner.json"

    def log(self, container: str) -> Path:
        return self.root / f"{container}.log"

    def pidfile(self, container: str) -> Path:
        return self.root / f"{container}.pid"

    def workdir(self, container: str) -> Path:
        return self.root / container


def replica_dir(home: Home, namespace: str, revision: str, replica: str) -> ReplicaDir:
    return ReplicaDir(revision_dir(home, namespace, revision) / replica)


def all_replica_dirs(home: Home) -> list[ReplicaDir]:
    return [ReplicaDir(p.parent) for p in sorted(home.replicas.glob("*/*/*/owner.json"))]
