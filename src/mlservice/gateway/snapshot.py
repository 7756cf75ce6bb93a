"""The routing snapshot: everything the gateway knows, pushed to it by the control plane.

The controllers build one from the store and the engine's replica states (a pure function in
`controller/`), and push it to the gateway whole, then as deltas. The gateway never reads the
store: it serves from the last snapshot it accepted. Plain frozen dataclasses, JSON on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Component = Literal["predict", "transform"]
LoggerMode = Literal["all", "request", "response"]
RouteKind = Literal["service", "predictor", "release", "transformer", "simple"]


@dataclass(frozen=True)
class Endpoint:
    """One ready replica of a revision."""

    replica: str
    address: str  # "127.0.0.1:PORT"


@dataclass(frozen=True)
class LoggerSpec:
    urls: tuple[str, ...] = ()
    mode: LoggerMode = "all"


@dataclass(frozen=True)
class Revision:
    """A runnable version of one component of one release, and where its ready replicas are."""

    id: str  # "{namespace}/{name}-{component}-{release}-{NNNNN}"
    namespace: str
    service: str
    component: Component
    release: str  # "" for a transformer or a SimpleMLService
    endpoints: tuple[Endpoint, ...] = ()
    container_concurrency: int = 0  # 0: no per-replica limit
    timeout_seconds: float = 300.0
    logger: LoggerSpec | None = None
    # True when the autoscaler may bring it up from zero: the activator holds requests for it.
    activatable: bool = True


@dataclass(frozen=True)
class Backend:
    revision: str  # a Revision.id
    release: str  # written to `x-mls-release`
    percent: int  # 0..100; a route's backends sum to 100


@dataclass(frozen=True)
class Route:
    """What one Host header reaches."""

    host: str  # "{name}.{ns}.{domain}", "{name}-predict-{release}.{ns}.{domain}", ...
    kind: RouteKind
    namespace: str
    service: str
    backends: tuple[Backend, ...] = ()
    paused: bool = False  # answer 503 "paused" without touching any backend


@dataclass(frozen=True)
class RoutingSnapshot:
    version: int
    revisions: Mapping[str, Revision] = field(default_factory=dict)
    routes: Mapping[str, Route] = field(default_factory=dict)  # by host, lower-case, no port

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "revisions": [asdict(r) for r in self.revisions.values()],
            "routes": [asdict(r) for r in self.routes.values()],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RoutingSnapshot:
        revisions = [_revision(r) for r in data.get("revisions", ())]
        routes = [_route(r) for r in data.get("routes", ())]
        return cls(
            version=int(data["version"]),
            revisions={r.id: r for r in revisions},
            routes={r.host: r for r in routes},
        )


def _revision(data: Mapping[str, Any]) -> Revision:
    logger = data.get("logger")
    return Revision(
        **{k: v for k, v in data.items() if k not in ("endpoints", "logger")},
        endpoints=tuple(Endpoint(**e) for e in data.get("endpoints", ())),
        logger=LoggerSpec(urls=tuple(logger["urls"]), mode=logger["mode"]) if logger else None,
    )


def _route(data: Mapping[str, Any]) -> Route:
    return Route(
        **{k: v for k, v in data.items() if k != "backends"},
        backends=tuple(Backend(**b) for b in data.get("backends", ())),
    )
