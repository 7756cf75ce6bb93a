"""The engine seam: what the controllers tell an engine to run, and what it reports back.

Controllers are the only callers. They render a component into an engine-neutral `Revision`
(`engine/revision.py`), `prepare` it once (the engine resolves it for where it runs: model,
secrets, programs) and call `ensure(revision, n)` again and again (level-triggered); the
engine converges on exactly `n` replicas of that revision and reports every replica state
change to its subscribers, so the controller reacts to readiness and crashes without polling.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NewType, Protocol

from mlservice.engine.revision import Revision, RevisionId

ReplicaId = NewType("ReplicaId", str)  # "{revision name}-{5 random chars}", unique per engine

Phase = Literal[
    "Pending",  # accepted, not started yet
    "Starting",  # process running, readiness not yet passed
    "Running",  # passed readiness once; `ready` says whether it still does
    "CrashLoopBackOff",  # exited; waiting out the backoff before the next start
    "OOMKilled",  # killed by the memory watchdog; restarts after the backoff
    "PortConflict",  # its fixed port is taken; retried until the port is free
    "Failed",  # cannot run at all (e.g. no command); stays so until stopped
    "Terminating",  # being stopped
]
EventType = Literal["ADDED", "MODIFIED", "DELETED"]


@dataclass(frozen=True)
class LogSpan:
    """Bytes `start` to `end` (None: to the end) of a log file: one run of a container."""

    path: Path
    start: int = 0
    end: int | None = None


@dataclass(frozen=True)
class ContainerState:
    name: str
    phase: Phase
    ready: bool
    pid: int | None
    restarts: int
    reason: str
    message: str
    log_path: Path
    log_start: int = 0  # where the current run's output begins in `log_path`
    previous_log: LogSpan | None = None  # the previous run's output, while the engine keeps it


@dataclass(frozen=True)
class ReplicaState:
    """A snapshot of one replica. `pid`, `port` and `grpc_port` are the user-container's."""

    id: ReplicaId
    revision_id: RevisionId
    phase: Phase
    ready: bool
    pid: int | None
    port: int | None
    grpc_port: int | None
    restarts: int
    reason: str = ""
    message: str = ""  # for crashes: the last log lines
    logs: Mapping[str, Path] = field(default_factory=dict)  # container name -> log file
    warnings: tuple[str, ...] = ()  # e.g. resources the engine cannot enforce
    containers: tuple[ContainerState, ...] = ()
    created: float = 0.0  # wall-clock seconds since the epoch when the replica was made
    revision: Revision | None = field(default=None, compare=False, repr=False)
    """The revision it runs (its labels and PodSpec), for views such as the API's Pods."""

    @property
    def address(self) -> str | None:
        return f"127.0.0.1:{self.port}" if self.port is not None else None


@dataclass(frozen=True)
class ReplicaEvent:
    type: EventType
    replica: ReplicaState


Listener = Callable[[ReplicaEvent], None]


@dataclass(frozen=True)
class PrepareFailure:
    """A revision whose preparation failed (and is retried by its controller): no replica runs
    yet, as a pod whose init container or configuration keeps failing."""

    revision: Revision
    reason: str  # the error's reason, e.g. "StorageError", "RuntimeUnavailable"
    message: str
    failures: int
    since: float  # wall-clock seconds of the first failure
    storage: bool  # the model's download failed (KServe's storage-initializer), not the config
    log: Path | None = None  # the storage-initializer's log, where the engine writes one


class Engine(Protocol):
    """Runs replicas of revisions. Every method is safe to call repeatedly."""

    async def prepare(self, revision: Revision) -> None:
        """Make `revision` runnable where this engine runs it, once per revision: fetch its
        model, resolve its references. Raises StorageError (model), RuntimeUnavailable (a
        program missing) or InvalidInput (a Secret or key missing); the controller reports
        them as conditions and retries."""
        ...

    async def ensure(self, revision: Revision, replicas: int) -> None:
        """Converge on exactly `replicas` replicas of `revision`, starting or stopping some.

        Prepares the revision first if that was not done. Returns once new replicas are
        accepted (they start and report in the background) and removed ones have exited. A
        changed spec under the same revision id replaces every replica."""
        ...

    async def stop(self, revision_id: RevisionId) -> None:
        """Stop every replica of the revision, free its ports and forget it."""
        ...

    async def replicas(self, revision_id: RevisionId | None = None) -> list[ReplicaState]:
        """Current replicas, of one revision or of all."""
        ...

    async def revisions(self) -> list[RevisionId]:
        """Revisions the engine was told to run (including those ensured at zero)."""
        ...

    async def restart(self, replica_id: ReplicaId) -> bool:
        """Replace one replica by a new one (a new id), as a ReplicaSet replaces a deleted pod;
        False when no such replica runs."""
        ...

    async def failed_preparations(self) -> list[PrepareFailure]:
        """Revisions whose last `prepare` failed and that were not stopped since."""
        ...

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` on the event loop for every replica change; returns an unsubscribe.

        Listeners must not block: push into a queue and return."""
        ...

    async def close(self) -> None:
        """Stop everything this engine started."""
        ...
