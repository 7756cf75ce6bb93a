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
class ContainerState:
    name: str
    phase: Phase
    ready: bool
    pid: int | None
    restarts: int
    reason: str
    message: str
    log_path: Path


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

    @property
    def address(self) -> str | None:
        return f"127.0.0.1:{self.port}" if self.port is not None else None


@dataclass(frozen=True)
class ReplicaEvent:
    type: EventType
    replica: ReplicaState


Listener = Callable[[ReplicaEvent], None]


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

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` on the event loop for every replica change; returns an unsubscribe.

        Listeners must not block: push into a queue and return."""
        ...

    async def close(self) -> None:
        """Stop everything this engine started."""
        ...
