"""`Controllers`: what `mls up` runs between the store and the engine.

Store watches (every registered kind of `kinds.py`, and the kinds they depend on: runtimes,
Secrets, claims) and engine replica events feed one work queue with a lane per object; the
reconcilers converge the engine and write status; after every pass the routing snapshot is
rebuilt and, when it changed, pushed to every sink (the gateway's, once it joins `mls up`).
A status-only change (our own status writes) does not enqueue anything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mlservice.controller.context import Context
from mlservice.controller.events import EventRecorder
from mlservice.controller.kinds import KINDS, GroupKind, Reconciler, Registration
from mlservice.controller.queue import WorkQueue
from mlservice.controller.routing import RouteSink, build_snapshot, same_content
from mlservice.controller.scale import ManualScale, ScaleSource
from mlservice.engine import Engine, ReplicaEvent, RevisionId
from mlservice.errors import Gone
from mlservice.gateway.snapshot import RoutingSnapshot
from mlservice.home import Home
from mlservice.naming import Hosts
from mlservice.runtime import BUILTIN_NAMESPACE
from mlservice.store import EventType, Key, Scope, Store, WatchEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ControllerConfig:
    home: Home
    """Model cache, volumes and replica logs live here."""

    domain: str = "localhost"
    """Host suffix of the URLs in status: `{name}.{namespace}.{domain}`."""

    gateway_port: int = 8080
    """The port status URLs name (left out when 80), and transformers' PREDICTOR_HOST."""

    max_replicas: int | None = None
    """`mls up --max-replicas`: no component runs more replicas than this."""

    resync_period: float = 300.0
    """Every object is reconciled again this often, in case an event was missed."""

    first_snapshot_wait: float = 10.0
    """At start, the first routing snapshot waits (at most this long) until every stored
    service was reconciled once: a gateway still serving a previous control plane's routes
    must not lose the services not reconciled yet."""

    drain_seconds: float = 1.0
    """A replaced revision runs this long after the routing snapshot without it went out, so
    no request reaches a replica that is shutting down."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Controllers:
    def __init__(
        self,
        *,
        store: Store,
        engine: Engine,
        config: ControllerConfig,
        scale: ScaleSource | None = None,
        sinks: list[RouteSink] | None = None,
        clock: Callable[[], datetime] | None = None,
        kinds: Sequence[Registration] = KINDS,
    ) -> None:
        self.store = store
        self.config = config
        self.scale = scale if scale is not None else ManualScale()
        self.sinks: list[RouteSink] = sinks if sinks is not None else []
        """Every routing snapshot goes to each of these; the gateway appends its own."""
        self.snapshot: RoutingSnapshot | None = None
        now = clock or _utcnow
        ctx = Context(
            store=store,
            engine=engine,
            events=EventRecorder(store, clock=now),
            scale=self.scale,
            home=config.home,
            hosts=Hosts(config.domain, config.gateway_port),
            max_replicas=config.max_replicas,
            clock=now,
            drain_seconds=config.drain_seconds,
        )
        self.context = ctx
        self._reconcilers: dict[str, Reconciler] = {r.kind: r.make(ctx) for r in kinds}
        self._services: list[GroupKind] = [(r.group, r.kind) for r in kinds]
        # Which service kinds each dependency concerns, e.g. Secret -> MLService, Simple...
        self._dependents: dict[GroupKind, set[str]] = {}
        for registration in kinds:
            for dependency in registration.depends_on:
                self._dependents.setdefault(dependency, set()).add(registration.kind)
        self.queue: WorkQueue[Key] = WorkQueue(self._reconcile)
        self._generations: dict[Key, object] = {}
        self._delivered: dict[int, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: list[Callable[[], None]] = []
        self._publishing = asyncio.Lock()
        self._unseen: set[Key] = set()
        self._first_deadline = 0.0
        self._closing = False

    async def start(self) -> None:
        for group, kind in self._services:
            for obj in self.store.list(Scope(group, kind)).items:
                self._unseen.add(Key.of(obj))
        self._first_deadline = asyncio.get_running_loop().time() + self.config.first_snapshot_wait
        engine = self.context.engine
        self._unsubscribe.append(engine.subscribe(self._on_replica))
        self._unsubscribe.append(self.scale.subscribe(self._on_scale))
        for group, kind in [*self._services, *self._dependents]:
            self._tasks.append(asyncio.create_task(self._watch(kind, group), name=f"watch {kind}"))
        self._tasks.append(asyncio.create_task(self._resync(), name="resync"))

    async def idle(self) -> None:
        """Wait until nothing is queued or being reconciled (for tests and shutdown)."""
        await asyncio.sleep(0)
        await self.queue.join()

    async def close(self) -> None:
        """Stop watching and reconciling; the engine (closed by its owner) stops replicas."""
        self._closing = True
        unsubscribes, self._unsubscribe = self._unsubscribe, []
        for unsubscribe in unsubscribes:
            unsubscribe()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.queue.close()

    # -- inputs ------------------------------------------------------------------------

    async def _watch(self, kind: str, group: str) -> None:
        since: int | None = None
        while not self._closing:
            try:
                feed = self.store.watch(Scope(group, kind), since=since)
            except Gone:
                since = None  # history compacted: start over from a full list
                continue
            try:
                while (event := await feed.aget()) is not None:
                    since = event.resource_version
                    self._on_store_event(kind, event)
            finally:
                feed.close()
            # The feed ended (cut off, or the store closing watches): resume where it was.
            await asyncio.sleep(0.1)

    def _on_store_event(self, kind: str, event: WatchEvent) -> None:
        if kind in self._reconcilers:
            self._on_service(event)
            return
        # A runtime, Secret or claim concerns the services of its namespace; a built-in
        # runtime or a cluster-scoped one (namespace ""), every service.
        namespace = event.key.namespace
        everyone = namespace in (BUILTIN_NAMESPACE, "")
        dependents = self._dependents.get((event.key.group, kind), set())
        for key in self._known():
            if key.kind in dependents and (everyone or namespace == key.namespace):
                self.queue.add(key)

    def _on_service(self, event: WatchEvent) -> None:
        key = event.key
        if event.type is EventType.DELETED:
            self._generations.pop(key, None)
        else:
            generation = event.object()["metadata"].get("generation")
            if event.type is EventType.MODIFIED and self._generations.get(key) == generation:
                return  # only status (or metadata) moved: nothing to converge
            self._generations[key] = generation
        self.queue.add(key)

    def _on_replica(self, event: ReplicaEvent) -> None:
        owner = self.context.owners.get(event.replica.revision_id)
        if isinstance(owner, Key):
            self.queue.add(owner)

    def _on_scale(self, revision_id: RevisionId) -> None:
        owner = self.context.owners.get(revision_id)
        if isinstance(owner, Key):
            self.queue.add(owner)

    def _known(self) -> list[Key]:
        return list(self._generations)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.config.resync_period)
            for key in self._known():
                self.queue.add(key)

    # -- work --------------------------------------------------------------------------

    async def _reconcile(self, key: Key) -> float | None:
        reconciler = self._reconcilers[key.kind]
        try:
            return await reconciler.reconcile(key)
        finally:
            self._unseen.discard(key)
            await self._publish()

    async def _publish(self) -> None:
        if self._unseen and asyncio.get_running_loop().time() < self._first_deadline:
            return  # a partial first snapshot would drop the routes of the rest
        async with self._publishing:
            routes = [r for rec in self._reconcilers.values() for r in rec.routes.values()]
            version = (self.snapshot.version if self.snapshot else 0) + 1
            fresh = build_snapshot(routes, hosts=self.context.hosts, version=version)
            if not same_content(self.snapshot, fresh):
                self.snapshot = fresh
            for sink in list(self.sinks):
                await self._deliver(sink)

    async def _deliver(self, sink: RouteSink) -> None:
        snapshot = self.snapshot
        if snapshot is None or self._delivered.get(id(sink), 0) >= snapshot.version:
            return
        try:
            await sink.push(snapshot)
        except Exception:  # one broken sink must not stop reconciling or starve the others
            log.exception("routing sink %r refused snapshot %d", sink, snapshot.version)
            return
        self._delivered[id(sink)] = snapshot.version
