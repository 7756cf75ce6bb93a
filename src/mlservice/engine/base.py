"""The engine seam: what the controllers tell an engine to run, and what it reports back.

Controllers are the only callers. They render a revision into a `RevisionSpec` and call
`ensure(revision, n)` again and again (level-triggered); the engine converges on exactly `n`
replicas of that revision and reports every replica state change to its subscribers, so the
controller reacts to readiness and crashes without polling.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NewType, Protocol

RevisionId = NewType("RevisionId", str)  # "{namespace}/{revision name}"
ReplicaId = NewType("ReplicaId", str)  # "{revision name}-{5 random chars}", unique per engine

USER_CONTAINER = "user-container"
DEFAULT_MOUNT_PATH = "/var/lib/t9k/model"
DEFAULT_CONTAINER_PORT = 8080

Component = Literal["predict", "transform"]
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
class HTTPGetAction:
    port: int | str | None = None  # None, a declared port's name or number: the replica's PORT
    path: str = "/"


@dataclass(frozen=True)
class TCPSocketAction:
    port: int | str | None = None


@dataclass(frozen=True)
class Probe:
    """A Kubernetes readinessProbe; unset timings fall back to the engine's configuration."""

    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    initial_delay_seconds: float | None = None
    period_seconds: float | None = None
    timeout_seconds: float | None = None
    success_threshold: int = 1
    failure_threshold: int = 3


@dataclass(frozen=True)
class ContainerPort:
    container_port: int
    name: str | None = None


@dataclass(frozen=True)
class Resources:
    """Kubernetes quantities as written (`512Mi`, `500m`); the engine parses and enforces them."""

    limits: Mapping[str, str] = field(default_factory=dict)
    requests: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerSpec:
    """One rendered container. `command` + `args` are final except `$(VAR)` references to the
    variables only the engine knows (`$(PORT)`, `$(GRPC_PORT)`, `$(MODEL_DIR)`, ...)."""

    name: str
    command: tuple[str, ...]
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)  # ordered, as in the PodSpec
    working_dir: str | None = None
    ports: tuple[ContainerPort, ...] = ()
    readiness_probe: Probe | None = None
    resources: Resources = field(default_factory=Resources)


@dataclass(frozen=True)
class RevisionSpec:
    """An immutable revision: a new spec means a new revision name."""

    namespace: str
    name: str  # e.g. "torch-mnist-predict-v1-00001"
    service: str
    component: Component
    release: str
    containers: tuple[ContainerSpec, ...]
    model_dir: Path | None = None  # prepared by storage before `ensure`
    mount_path: str = DEFAULT_MOUNT_PATH  # rewritten to `model_dir` in args, env and workingDir
    volumes: Mapping[str, Path] = field(default_factory=dict)  # other mount path -> local dir
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [c.name for c in self.containers]
        if not names:
            raise ValueError(f"revision {self.namespace}/{self.name} has no containers")
        if len(set(names)) != len(names):
            raise ValueError(f"revision {self.namespace}/{self.name} repeats a container name")

    @property
    def id(self) -> RevisionId:
        return RevisionId(f"{self.namespace}/{self.name}")

    @property
    def user_container(self) -> ContainerSpec:
        """The server: the container named `user-container`, else the first one."""
        by_name = {c.name: c for c in self.containers}
        return by_name.get(USER_CONTAINER, self.containers[0])


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

    async def ensure(self, revision: RevisionSpec, replicas: int) -> None:
        """Converge on exactly `replicas` replicas of `revision`, starting or stopping some.

        Returns once new replicas are accepted (they start and report in the background) and
        removed ones have exited. A changed spec under the same revision id replaces every
        replica."""
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
