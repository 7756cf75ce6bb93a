"""The gateway's routing snapshot, built from what the controllers know: a pure function.

Each service contributes a `ServiceRoutes` (which revision serves each release, the
transformer's, split and pause); `build_snapshot` turns all of them into the gateway's
`RoutingSnapshot`: revisions with their ready endpoints, and one route per Host as the
design's Gateway section lists. A release keeps routing to its serving revision during a
rollout; only before its first revision is ready does it route to the newest one (whose
replicas are starting, so the activator holds requests).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from mlservice.controller.track import TrackView
from mlservice.engine import ReplicaState
from mlservice.gateway.snapshot import (
    DEFAULT_CONTAINER_CONCURRENCY,
    DEFAULT_TIMEOUT_SECONDS,
    Backend,
    Component,
    Endpoint,
    LoggerSpec,
    Revision,
    Route,
    RouteKind,
    RoutingSnapshot,
    Shadow,
)
from mlservice.naming import Hosts


@dataclass(frozen=True)
class Settings:
    """Per-revision serving settings from the component's spec."""

    container_concurrency: int = DEFAULT_CONTAINER_CONCURRENCY
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    logger: LoggerSpec | None = None


@dataclass(frozen=True)
class ServiceRoutes:
    kind: Literal["MLService", "SimpleMLService", "InferenceService"]
    namespace: str
    name: str
    releases: Mapping[str, Revision] = field(default_factory=dict)  # release -> serving revision
    transformer: Revision | None = None
    default: str = ""
    canary: str | None = None
    canary_percent: int = 0
    paused: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    """An InferenceService's tag routing: tag (`latest`, `prev`) -> the release it reaches."""
    shadow: str | None = None
    """The release the gateway copies `shadow_percent` of the requests to (docs/shadow.md)."""
    shadow_percent: int = 0


class RouteSink(Protocol):
    """Where snapshots go (the gateway, or memory); called on every change, in order."""

    async def push(self, snapshot: RoutingSnapshot) -> None: ...


class MemorySink(RouteSink):
    """Keeps the last snapshot: what `mls up` has until the gateway joins, and tests read."""

    def __init__(self) -> None:
        self.last: RoutingSnapshot | None = None
        self.pushed = 0

    async def push(self, snapshot: RoutingSnapshot) -> None:
        self.last = snapshot
        self.pushed += 1


def routed_revision(
    view: TrackView,
    *,
    namespace: str,
    service: str,
    component: Component,
    release: str,
    settings: Settings,
    activatable: bool,
) -> Revision | None:
    """The revision a component's routes point at, with its ready endpoints."""
    name = view.serving or view.latest
    if name is None:
        return None
    ready = [r for r in view.replicas.get(name, ()) if r.ready and r.address is not None]
    return Revision(
        id=f"{namespace}/{name}",
        namespace=namespace,
        service=service,
        component=component,
        release=release,
        endpoints=tuple(Endpoint(r.id, r.address, _grpc(r)) for r in ready if r.address),
        container_concurrency=settings.container_concurrency,
        timeout_seconds=settings.timeout_seconds,
        logger=settings.logger,
        activatable=activatable,
    )


def activatable(view: TrackView, *, paused: bool = False) -> bool:
    """Whether the activator may hold requests for a component and wake it: not while its
    service is paused, nor when its only revision has failed (waking it cannot help)."""
    return not paused and (view.serving is not None or view.failure is None)


def _grpc(replica: ReplicaState) -> str | None:
    """Where the gateway's h2c path reaches the replica's gRPC server (loopback, as `address`)."""
    return f"127.0.0.1:{replica.grpc_port}" if replica.grpc_port is not None else None


def build_snapshot(
    services: Iterable[ServiceRoutes], *, hosts: Hosts, version: int
) -> RoutingSnapshot:
    revisions: dict[str, Revision] = {}
    routes: dict[str, Route] = {}
    for svc in services:
        for revision in (*svc.releases.values(), svc.transformer):
            if revision is not None:
                revisions[revision.id] = revision
        for route in _routes(svc, hosts):
            routes[route.host] = route
    return RoutingSnapshot(version=version, revisions=revisions, routes=routes)


def same_content(a: RoutingSnapshot | None, b: RoutingSnapshot) -> bool:
    return a is not None and replace(a, version=b.version) == b


def _routes(svc: ServiceRoutes, hosts: Hosts) -> list[Route]:
    name, ns = svc.name, svc.namespace

    def route(
        host: str, kind: RouteKind, backends: list[Backend], shadow: Shadow | None = None
    ) -> Route:
        return Route(host, kind, ns, name, tuple(backends), svc.paused, shadow)

    if svc.kind == "SimpleMLService":
        only = next(iter(svc.releases.values()), None)
        backends = [Backend(only.id, "", 100)] if only else []
        return [route(hosts.simple(name, ns), "simple", backends)]
    split = _split(svc)
    shadow = _shadow(svc)
    found = [route(hosts.predictor(name, ns), "predictor", split, shadow)]
    if svc.kind == "MLService":  # an InferenceService's "releases" are revisions: no host each
        found += [
            route(hosts.release(name, ns, release), "release", [Backend(rev.id, release, 100)])
            for release, rev in svc.releases.items()
        ]
    for tag, release in svc.tags.items():
        if release in svc.releases:
            tagged = [Backend(svc.releases[release].id, release, 100)]
            found.append(route(hosts.tagged(name, ns, tag), "release", tagged))
    if svc.transformer is not None:
        chain = [Backend(svc.transformer.id, "", 100)]
        found.append(route(hosts.transformer(name, ns), "transformer", chain))
        found.append(route(hosts.service(name, ns), "service", chain))
    else:
        found.append(route(hosts.service(name, ns), "service", split, shadow))
    return found


def _shadow(svc: ServiceRoutes) -> Shadow | None:
    """The shadow copy of the split's traffic, on the predictor and service hosts only (with a
    transformer, its calls to the predictor host are the ones copied, so never twice). A
    shadow that also takes part in the split, or has no revision yet, is left out."""
    release = svc.shadow
    if release is None or svc.shadow_percent <= 0 or release not in svc.releases:
        return None
    if release in (svc.default, svc.canary):
        return None
    return Shadow(revision=svc.releases[release].id, release=release, percent=svc.shadow_percent)


def _split(svc: ServiceRoutes) -> list[Backend]:
    """Default and canary backends with their percents, a backend at 0% left out. A release
    with no revision at all (its runtime is missing, say) cannot take a share: the other one
    takes it all, so the percents still sum to 100."""
    canary = svc.canary_percent if svc.canary else 0
    weights = [(svc.default, 100 - canary), *([(svc.canary, canary)] if svc.canary else [])]
    present = [(r, p) for r, p in weights if r in svc.releases]
    if len(present) == 1:
        present = [(present[0][0], 100)]
    return [Backend(svc.releases[r].id, r, p) for r, p in present if p > 0]
