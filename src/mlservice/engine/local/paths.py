"""Where a replica's files live under `Home.replicas`.

replicas/<namespace>/<revision>/storage-initializer.log   written by the resolver's
                                                          storage step, shared by replicas
replicas/<namespace>/<revision>/<replica>/owner.json       the process whose death ends it
replicas/<namespace>/<revision>/<replica>/replica.json     revision hash and ports, to adopt it
replicas/<namespace>/<revision>/<replica>/<container>.log  stdout + stderr
replicas/<namespace>/<revision>/<replica>/<container>.pid  pid + start time while it runs
replicas/<namespace>/<revision>/<replica>/<container>/     default working dir
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlservice.errors import InvalidInput, UnsafePath
from mlservice.home import Home
from mlservice.storage.paths import safe_join

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

    @property
    def record(self) -> Path:
        """What a restarted control plane needs to adopt the replica: revision, hash, ports."""
        return self.root / "replica.json"

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


def container_log(
    home: Home, namespace: str, revision: str, *, container: str, replica: str | None
) -> Path:
    """A container's log file: the storage-initializer's of the revision, else the given
    replica's (default: the newest replica). InvalidInput says what is missing, or which
    name would lead out of the replicas folder."""
    folder = _inside(home, namespace, revision)
    if container == STORAGE_INITIALIZER:
        path = folder / f"{STORAGE_INITIALIZER}.log"
    else:
        if replica is not None:
            root = _inside(home, namespace, revision, replica)
        else:
            root = _newest_replica(folder, revision=revision)
        path = _inside(home, namespace, revision, root.name, f"{container}.log")
    if not path.is_file():
        raise InvalidInput(f"Revision {revision} has no {container} log at {path}.")
    return path


def _inside(home: Home, *names: str) -> Path:
    """`home.replicas`/names..., each name one segment, the result inside on disk."""
    for name in names:
        if not name or "/" in name:
            raise InvalidInput(f"{name!r} is not a name: a log is named by plain names.")
    try:
        return safe_join(home.replicas, "/".join(names), within="the replicas folder")
    except UnsafePath as exc:
        raise InvalidInput(f"The log {'/'.join(names)!r} {exc.why}.") from None


def _newest_replica(folder: Path, *, revision: str) -> Path:
    found = sorted(
        (p for p in folder.glob("*/owner.json")), key=lambda p: p.stat().st_mtime, reverse=True
    )
    if not found:
        raise InvalidInput(f"Revision {revision} has no replica (yet) under {folder}.")
    return found[0].parent
