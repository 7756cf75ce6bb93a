"""Adopting replicas a previous control plane started: same processes, same ports, same pids.

Under `mls up` the data-plane supervisor forks replicas, so they outlive a crash of the control
plane. The restarted control plane's engine lists what the supervisor still runs, matches it to
the replica directories its predecessor wrote (`replica.json`: revision, spec hash, ports), and
keeps every replica whose containers all still run. `ensure` takes them over for a revision of
the same hash instead of starting new ones; what nobody claims within a grace period is stopped.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
from dataclasses import dataclass, field

from mlservice.engine.base import ReplicaId
from mlservice.engine.local.paths import ReplicaDir, all_replica_dirs
from mlservice.engine.local.pidfiles import ProcessRecord, read_record
from mlservice.engine.local.process import ProcessHandle
from mlservice.engine.revision import RevisionId
from mlservice.home import Home

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplicaRecord:
    revision: str  # a RevisionId
    hash: str
    port: int
    grpc_port: int
    containers: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps({**self.__dict__, "containers": list(self.containers)})

    @classmethod
    def read(cls, dirs: ReplicaDir) -> ReplicaRecord | None:
        try:
            data = json.loads(dirs.record.read_text())
            return cls(
                revision=str(data["revision"]),
                hash=str(data["hash"]),
                port=int(data["port"]),
                grpc_port=int(data["grpc_port"]),
                containers=tuple(str(c) for c in data["containers"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


@dataclass
class Adoptable:
    replica_id: ReplicaId
    dirs: ReplicaDir
    record: ReplicaRecord
    processes: dict[str, ProcessHandle] = field(default_factory=dict)  # container -> process

    @property
    def revision_id(self) -> RevisionId:
        return RevisionId(self.record.revision)


def process_tag(namespace: str, revision: str, replica: str, container: str) -> str:
    return f"{namespace}/{revision}/{replica}/{container}"


def find_adoptable(
    home: Home, *, owner: ProcessRecord, running: list[ProcessHandle]
) -> list[Adoptable]:
    """Replicas of `owner` whose every container still runs; the rest of its replicas (a
    container gone, no record) are stopped and their directories removed."""
    by_tag = {p.tag: p for p in running}
    found = []
    for dirs in all_replica_dirs(home):
        if read_record(dirs.owner) != owner:
            continue  # another engine's, or a dead one's: `reap_leftovers` decides
        namespace, revision = dirs.root.parent.parent.name, dirs.root.parent.name
        replica = dirs.root.name
        record = ReplicaRecord.read(dirs)
        names = record.containers if record else ()
        processes = {
            c: by_tag[tag]
            for c in names
            if (tag := process_tag(namespace, revision, replica, c)) in by_tag
        }
        if record is not None and len(processes) == len(names):
            found.append(Adoptable(ReplicaId(replica), dirs, record, processes))
            continue
        log.warning("replica %s lost a container while unsupervised; stopping it", replica)
        for process in processes.values():
            process.signal_group(signal.SIGKILL)
        shutil.rmtree(dirs.root, ignore_errors=True)
    return found
