"""The engine seam (`Engine`) and its value types; implementations live in `engine.local`
(processes on this machine) and `engine.fake` (for controller tests)."""

from mlservice.engine.base import (
    ContainerState,
    Engine,
    EventType,
    Listener,
    Phase,
    ReplicaEvent,
    ReplicaId,
    ReplicaState,
)
from mlservice.engine.revision import (
    DEFAULT_MOUNT_PATH,
    ModelSource,
    Revision,
    RevisionId,
    StorageKey,
    spec_hash,
)

__all__ = [
    "DEFAULT_MOUNT_PATH",
    "ContainerState",
    "Engine",
    "EventType",
    "Listener",
    "ModelSource",
    "Phase",
    "ReplicaEvent",
    "ReplicaId",
    "ReplicaState",
    "Revision",
    "RevisionId",
    "StorageKey",
    "spec_hash",
]
