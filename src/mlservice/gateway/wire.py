"""The admin channel's payloads: full snapshots and deltas, checked with pydantic at the edge.

A malformed push is refused whole with a message naming the field, so the gateway keeps
serving its last good snapshot instead of half of a bad one.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlservice.errors import InvalidInput
from mlservice.gateway.delta import SnapshotDelta
from mlservice.gateway.snapshot import (
    Backend,
    Component,
    Endpoint,
    LoggerMode,
    LoggerSpec,
    Revision,
    Route,
    RouteKind,
    RoutingSnapshot,
)

Percent = Annotated[int, Field(ge=0, le=100)]
M = TypeVar("M", bound=BaseModel)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EndpointModel(_Model):
    replica: str
    address: Annotated[str, Field(pattern=r"^[^:\s]+:\d{1,5}$")]


class LoggerModel(_Model):
    urls: tuple[str, ...] = ()
    mode: LoggerMode = "all"


class RevisionModel(_Model):
    id: Annotated[str, Field(min_length=1)]
    namespace: str
    service: str
    component: Component
    release: str
    endpoints: tuple[EndpointModel, ...] = ()
    container_concurrency: Annotated[int, Field(ge=0)] = 0
    timeout_seconds: Annotated[float, Field(gt=0)] = 300.0
    logger: LoggerModel | None = None
    activatable: bool = True

    def value(self) -> Revision:
        logger = self.logger
        return Revision(
            **self.model_dump(exclude={"endpoints", "logger"}),
            endpoints=tuple(Endpoint(**e.model_dump()) for e in self.endpoints),
            logger=LoggerSpec(urls=logger.urls, mode=logger.mode) if logger else None,
        )


class BackendModel(_Model):
    revision: str
    release: str
    percent: Percent


class RouteModel(_Model):
    host: Annotated[str, Field(min_length=1)]
    kind: RouteKind
    namespace: str
    service: str
    backends: tuple[BackendModel, ...] = ()
    paused: bool = False

    def value(self) -> Route:
        total = sum(b.percent for b in self.backends)
        if self.backends and total != 100:
            raise InvalidInput(
                f"Route {self.host} has backend percents summing to {total}, not 100."
            )
        return Route(
            **self.model_dump(exclude={"backends", "host"}),
            host=self.host.lower(),
            backends=tuple(Backend(**b.model_dump()) for b in self.backends),
        )


class SnapshotModel(_Model):
    version: int
    revisions: tuple[RevisionModel, ...] = ()
    routes: tuple[RouteModel, ...] = ()


class DeltaModel(_Model):
    base: int
    version: int
    revisions: tuple[RevisionModel, ...] = ()
    removed_revisions: tuple[str, ...] = ()
    routes: tuple[RouteModel, ...] = ()
    removed_routes: tuple[str, ...] = ()


def parse_snapshot(body: bytes) -> RoutingSnapshot:
    model = _validate(SnapshotModel, body, what="routing snapshot")
    revisions = [r.value() for r in model.revisions]
    routes = [r.value() for r in model.routes]
    return RoutingSnapshot(
        version=model.version,
        revisions={r.id: r for r in revisions},
        routes={r.host: r for r in routes},
    )


def parse_delta(body: bytes) -> SnapshotDelta:
    model = _validate(DeltaModel, body, what="routing delta")
    return SnapshotDelta(
        base=model.base,
        version=model.version,
        revisions=tuple(r.value() for r in model.revisions),
        removed_revisions=model.removed_revisions,
        routes=tuple(r.value() for r in model.routes),
        removed_routes=model.removed_routes,
    )


def delta_to_json(delta: SnapshotDelta) -> dict[str, Any]:
    return {
        "base": delta.base,
        "version": delta.version,
        "revisions": [asdict(r) for r in delta.revisions],
        "removed_revisions": list(delta.removed_revisions),
        "routes": [asdict(r) for r in delta.routes],
        "removed_routes": list(delta.removed_routes),
    }


def _validate(model: type[M], body: bytes, *, what: str) -> M:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(body)"
        raise InvalidInput(f"The {what} field {where} is invalid: {first['msg']}.") from None
