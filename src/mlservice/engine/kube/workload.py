"""What the renderer takes: one parent's components (engine-neutral revisions) and routing.

A `Workload` is everything one MLService, SimpleMLService or InferenceService becomes on a
cluster, before choosing Knative or standard objects: its predictor releases with their
traffic percents, its transformer, scale bounds and the per-pod agent's settings. The
controllers build it from manifests (`controller/offline.py`); nothing here reads a manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mlservice.engine.revision import Revision


@dataclass(frozen=True)
class LoggerArgs:
    """The agent's request logger: CloudEvents to `urls` (none: no events), which messages."""

    urls: tuple[str, ...] = ()
    mode: str = "all"


@dataclass(frozen=True)
class Component:
    """One revision to run and how: scale bounds, Knative's per-revision settings, the agent."""

    revision: Revision
    field_path: str
    """Where the component is in its manifest (`spec.releases[0].predictor`), for errors."""
    min_replicas: int = 1
    max_replicas: int | None = None  # None: no upper bound
    container_concurrency: int | None = None
    timeout_seconds: int | None = None
    logger: LoggerArgs | None = None
    max_batch_size: int | None = None
    max_latency_ms: int | None = None

    @property
    def needs_agent(self) -> bool:
        return self.logger is not None or self.max_batch_size is not None


@dataclass(frozen=True)
class Pinned:
    """A KServe canary: within its split's share, the latest revision takes `latest_percent`
    and `revision`, the one rolled out before it (which only a cluster knows), the rest.
    `tags`: KServe's tag routing, the targets tagged `latest` and `prev`."""

    revision: str
    latest_percent: int
    tags: bool = False


@dataclass(frozen=True)
class Split:
    """A predictor release and its share of the service's traffic (percents sum to 100)."""

    release: str  # its tag and host part; "" for a kind without releases
    component: Component
    percent: int
    pinned: Pinned | None = None
    """Knative mode only (standard mode has no revisions to pin: everything goes to the
    Deployment, as in KServe's raw mode)."""


@dataclass(frozen=True)
class Mirror:
    """An MLService's `spec.shadow` (ours): `percent` of the split's requests copied to
    `release`, whose answers are thrown away. Standard mode only (an HTTPRoute filter)."""

    release: str
    percent: int


@dataclass(frozen=True)
class Workload:
    kind: Literal["MLService", "SimpleMLService", "InferenceService"]
    namespace: str
    name: str
    releases: tuple[Split, ...]
    transformer: Component | None = None
    replicas: int | None = None
    """A SimpleMLService's fixed replica count (its `releases` hold one split at 100 %)."""
    service_ports: tuple[tuple[str | None, int], ...] = ()
    """A SimpleMLService's `service.ports` (name, port)."""
    queue: str | None = None
    """`scheduler.t9kScheduler.queue`: the pods go to the T9k scheduler's queue."""
    labels: dict[str, str] = field(default_factory=dict)
    """The owner labels every child carries."""
    shadow: Mirror | None = None
    analysis: bool = False
    """`spec.analysis` is set (ours): rendered as nothing; spec's percents are what runs."""
