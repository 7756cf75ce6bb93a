"""The routing snapshot: everything the gateway knows, pushed to it by the control plane.

The controllers build one from the store and the engine's replica states (a pure function in
`controller/`), and push it to the gateway whole, then as deltas. The gateway never reads the
store: it serves from the last snapshot it accepted.

These frozen dataclasses are the only description of the shape. Their fields carry pydantic
constraints as `Annotated` metadata, inert when the controllers construct them; the admin edge
(`gateway/wire.py`) validates and serializes pushes with `TypeAdapter`s over these same classes,
so the request path only ever reads plain attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, ConfigDict, Field, GetCoreSchemaHandler, with_config
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

Component = Literal["predict", "transform"]
LoggerMode = Literal["all", "request", "response"]
# Whose request-log events a revision emits: ours (the design's `tensorstack.dev.mlservice.*`)
# or KServe's agent's (`org.kubeflow.serving.inference.*`), for an InferenceService.
EventFlavor = Literal["mlservice", "kserve"]
RouteKind = Literal["service", "predictor", "release", "transformer", "simple"]

# A revision's serving defaults, for the spec fields a user leaves out: the dataclasses below
# and the controllers (`controller/routing.py` `Settings`) read them from here.
DEFAULT_TIMEOUT_SECONDS = 300.0
DEFAULT_CONTAINER_CONCURRENCY = 0  # no per-replica limit
DEFAULT_LOGGER_MODE: LoggerMode = "all"
DEFAULT_EVENT_FLAVOR: EventFlavor = "mlservice"
DEFAULT_ACTIVATABLE = True

# Decorates every class of the shape: a push naming a field the gateway does not know is
# refused whole rather than half understood.
no_extra_fields = with_config(ConfigDict(extra="forbid"))

Address = Annotated[str, Field(pattern=r"^[^:\s]+:\d{1,5}$")]  # "127.0.0.1:PORT"
NonEmpty = Annotated[str, Field(min_length=1)]
Percent = Annotated[int, Field(ge=0, le=100)]


@dataclass(frozen=True)
class Keyed:
    """Pydantic metadata for a `Mapping[str, V]` field that travels as the list of its values,
    each value holding its own key in the attribute `key` (so the wire cannot disagree)."""

    key: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        items = handler.generate_schema(tuple[get_args(source)[1], ...])  # type: ignore[misc]
        key = self.key
        return core_schema.no_info_after_validator_function(
            lambda values: {getattr(v, key): v for v in values},
            items,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda mapping: tuple(mapping.values()), return_schema=items
            ),
        )


@no_extra_fields
@dataclass(frozen=True)
class Endpoint:
    """One ready replica of a revision."""

    replica: str
    address: Address
    grpc: Address | None = None  # its gRPC port ("127.0.0.1:PORT"), for the gateway's h2c


@no_extra_fields
@dataclass(frozen=True)
class LoggerSpec:
    urls: tuple[str, ...] = ()
    mode: LoggerMode = DEFAULT_LOGGER_MODE
    flavor: EventFlavor = DEFAULT_EVENT_FLAVOR


@no_extra_fields
@dataclass(frozen=True)
class Revision:
    """A runnable version of one component of one release, and where its ready replicas are."""

    id: NonEmpty  # "{namespace}/{name}-{component}-{release}-{NNNNN}"
    namespace: str
    service: str
    component: Component
    release: str  # "" for a transformer or a SimpleMLService
    endpoints: tuple[Endpoint, ...] = ()
    container_concurrency: Annotated[int, Field(ge=0)] = DEFAULT_CONTAINER_CONCURRENCY
    timeout_seconds: Annotated[float, Field(gt=0)] = DEFAULT_TIMEOUT_SECONDS
    logger: LoggerSpec | None = None
    # True when the autoscaler may bring it up from zero: the activator holds requests for it.
    activatable: bool = DEFAULT_ACTIVATABLE


@no_extra_fields
@dataclass(frozen=True)
class Backend:
    revision: str  # a Revision.id
    release: str  # written to `x-mls-release`
    percent: Percent  # a route's backends sum to 100


@no_extra_fields
@dataclass(frozen=True)
class Shadow:
    """A copy of `percent` of a route's requests, sent to `revision` off the request path;
    its answers are compared with the client's and discarded (docs/shadow.md)."""

    revision: str  # a Revision.id
    release: str
    percent: Percent


@no_extra_fields
@dataclass(frozen=True)
class Route:
    """What one Host header reaches."""

    # "{name}.{ns}.{domain}", "{name}-predict-{release}.{ns}.{domain}", ...; Host headers are
    # matched lower-cased, so a pushed host is lower-cased once, at the edge.
    host: Annotated[NonEmpty, AfterValidator(str.lower)]
    kind: RouteKind
    namespace: str
    service: str
    backends: tuple[Backend, ...] = ()
    paused: bool = False  # answer 503 "paused" without touching any backend
    shadow: Shadow | None = None


def _percents_sum_to_100(route: Route) -> Route:
    total = sum(b.percent for b in route.backends)
    if route.backends and total != 100:
        raise PydanticCustomError(
            "backend_percents",
            "Route {host} has backend percents summing to {total}, not 100",
            {"host": route.host, "total": total},
        )
    return route


# A pushed route, checked as a whole (the constraint spans its backends).
PushedRoute = Annotated[Route, AfterValidator(_percents_sum_to_100)]


@no_extra_fields
@dataclass(frozen=True)
class RoutingSnapshot:
    version: int
    revisions: Annotated[Mapping[str, Revision], Keyed("id")] = field(default_factory=dict)
    # by host, lower-case, no port
    routes: Annotated[Mapping[str, PushedRoute], Keyed("host")] = field(default_factory=dict)
