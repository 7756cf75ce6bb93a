"""The scaffolding of the reconcilers that run their components as tracks.

MLService, InferenceService and SimpleMLService passes have one shape: fetch the object (gone:
stop its tracks, drop its routes and events), parse it, let each component's `Track` converge
the engine on its plan, write the status computed from what the tracks report, keep the
object's routes, and ask to run again after the soonest delay any part wants. `TrackedReconciler`
is that shape; what a kind renders, how it holds a canary, its status and its routes stay in
the kind's module, in `converge`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from mlservice.controller.context import Context
from mlservice.controller.events import Involved
from mlservice.controller.routing import ServiceRoutes
from mlservice.controller.track import Failure, Plan, Track
from mlservice.errors import MLServiceError, NotFound
from mlservice.naming import ComponentKey
from mlservice.resources import Envelope, parse_as
from mlservice.store import Key, Obj


@dataclass
class Components:
    """One object's tracks, by component."""

    tracks: dict[ComponentKey, Track] = field(default_factory=dict)

    async def keep_only(self, wanted: Collection[ComponentKey]) -> None:
        """Stop the tracks of the components the spec no longer has."""
        for component in [c for c in self.tracks if c not in wanted]:
            await self.tracks.pop(component).stop()


@dataclass(frozen=True)
class Converged:
    """What one pass over an object found: its status, its routes, the delays its parts asked."""

    status: dict[str, Any]
    routes: ServiceRoutes
    delays: Iterable[float | None]


R = TypeVar("R", bound=Envelope)
S = TypeVar("S", bound=Components)


class TrackedReconciler(ABC, Generic[R, S]):
    """A reconciler whose objects (of model `R`) each keep their tracks in a state `S`."""

    api_version: ClassVar[str]
    kind: ClassVar[str]

    def __init__(self, ctx: Context, *, model: type[R], state: Callable[[], S]) -> None:
        self.ctx = ctx
        self.routes: dict[Key, ServiceRoutes] = {}
        self._model = model
        self._new_state = state
        self._services: dict[Key, S] = {}

    def keys(self) -> list[Key]:
        return list(self._services)

    async def reconcile(self, key: Key) -> float | None:
        try:
            obj = self.ctx.store.get(key)
        except NotFound:
            await self.forget(key)
            return None
        resource = parse_as(self._model, obj)
        state = self._services.setdefault(key, self._new_state())
        done = await self.converge(key, obj, resource, state)
        self.ctx.write_status(obj, done.status)
        self.routes[key] = done.routes
        return soonest(done.delays)

    @abstractmethod
    async def converge(self, key: Key, obj: Obj, resource: R, state: S) -> Converged:
        """Step the object's tracks; what the pass found (the kind's own logic)."""

    async def forget(self, key: Key) -> None:
        state = self._services.pop(key, None)
        for track in (state.tracks if state else {}).values():
            await track.stop()
        self.routes.pop(key, None)
        self.ctx.events.forget(Involved(self.api_version, self.kind, key.namespace, key.name))

    def _track(self, state: S, key: Key, obj: Obj, component: ComponentKey) -> Track:
        if component not in state.tracks:
            state.tracks[component] = self._new_track(key, obj, component)
        return state.tracks[component]

    def _new_track(self, key: Key, obj: Obj, component: ComponentKey) -> Track:
        return self.ctx.track(key, obj, component=component)

    async def _apply(
        self,
        track: Track,
        outcome: Plan | Failure,
        *,
        min_replicas: int,
        max_replicas: int | None,
        paused: bool = False,
        container_concurrency: int | None = None,
        hold: bool = False,
    ) -> float | None:
        """Step `track` to `outcome` at the scale wanted, then tell the scale source how to
        scale what it runs; the track's delay."""
        scale = self.ctx.replicas(
            track, min_replicas=min_replicas, max_replicas=max_replicas, paused=paused
        )
        delay = await track.step(outcome, scale=scale, hold=hold)
        if isinstance(outcome, Plan):
            self.ctx.autoscale(
                track,
                annotations=outcome.annotations,
                min_replicas=min_replicas,
                max_replicas=max_replicas,
                container_concurrency=container_concurrency,
            )
        return delay


def soonest(delays: Iterable[float | None]) -> float | None:
    """The shortest of the delays asked for, if any part asked."""
    return min((d for d in delays if d is not None), default=None)


def render_failure(err: MLServiceError) -> Failure:
    """A spec that cannot be rendered, as its track's failure."""
    return Failure(err.spec_reason, err.message)
