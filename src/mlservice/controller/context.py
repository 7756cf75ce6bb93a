"""What every reconciler shares: the store, the engine, events, scale, names, the clock."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlservice.controller.conditions import rfc3339
from mlservice.controller.events import EventRecorder, Involved
from mlservice.controller.scale import ScaleSource, replica_count
from mlservice.controller.track import Track
from mlservice.engine import Engine, RevisionId
from mlservice.errors import NotFound
from mlservice.home import Home
from mlservice.naming import ComponentKey, Hosts
from mlservice.resources import MLServiceRuntime, parse_as
from mlservice.resources.kinds import GROUP
from mlservice.runtime import BUILTIN_NAMESPACE
from mlservice.store import Key, Obj, Scope, Store


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    store: Store
    engine: Engine
    events: EventRecorder
    scale: ScaleSource
    home: Home
    hosts: Hosts
    max_replicas: int | None = None
    """`mls up --max-replicas`: no component runs more replicas than this."""
    owners: dict[RevisionId, object] = field(default_factory=dict)
    """Which object (its store Key) each running revision belongs to, for engine events."""
    clock: Callable[[], datetime] = _utcnow
    drain_seconds: float = 1.0
    """See `ControllerConfig.drain_seconds`."""

    def now(self) -> str:
        return rfc3339(self.clock())

    def track(self, key: Key, obj: Obj, *, component: ComponentKey) -> Track:
        """A fresh track for one component of `obj`, continuing the naming its status records."""
        involved = Involved.of(obj)

        def note(reason: str, message: str, warning: bool) -> None:
            if warning:
                self.events.warning(involved, reason, message)
            else:
                self.events.normal(involved, reason, message)

        track = Track(
            engine=self.engine,
            namespace=key.namespace,
            service=key.name,
            key=component,
            note=note,
            owners=self.owners,
            owner=key,
            drain_seconds=self.drain_seconds,
        )
        recorded = _recorded(obj.get("status") or {}, component)
        track.restore(recorded.get("latestRevision"), recorded.get("revisionHash"))
        return track

    def replicas(
        self, track: Track, *, min_replicas: int, max_replicas: int | None, paused: bool
    ) -> int:
        if paused:
            return 0
        serving = track.serving or track.latest
        wanted = self.scale.desired(track.revision_id(serving.name)) if serving else None
        cap = self.max_replicas
        return replica_count(
            wanted=wanted, min_replicas=min_replicas, max_replicas=max_replicas, cap=cap
        )

    def autoscale(
        self,
        track: Track,
        *,
        annotations: Mapping[str, str],
        min_replicas: int,
        max_replicas: int | None,
        container_concurrency: int | None = None,
    ) -> None:
        """Tell the scale source how to scale the revisions the track runs."""
        for rev in {id(r): r for r in (track.serving, track.latest) if r}.values():
            self.scale.configure(
                track.revision_id(rev.name),
                annotations=annotations,
                min_replicas=min_replicas,
                max_replicas=max_replicas,
                container_concurrency=container_concurrency,
            )

    def runtimes(self, namespace: str) -> list[MLServiceRuntime]:
        """The namespace's runtimes and the built-in ones (selection decides precedence)."""
        found = []
        for ns in dict.fromkeys([namespace, BUILTIN_NAMESPACE]):
            for item in self.store.list(Scope(GROUP, "MLServiceRuntime", ns)).items:
                found.append(parse_as(MLServiceRuntime, item))
        return found

    def write_status(self, obj: Obj, status: dict[str, Any]) -> None:
        if obj.get("status") == status:
            return
        meta = obj["metadata"]
        update = {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "status": status,
        }
        with contextlib.suppress(NotFound):  # deleted meanwhile: its DELETED event tears down
            self.store.update_status(update)


def _recorded(status: Obj, component: ComponentKey) -> Obj:
    """Where status records a component's latest revision and hash: per release, in the
    transformer's block, or (a component of a kind without releases) at the top."""
    if component.component == "transform":
        found: Obj = status.get("transformer") or {}
        return found
    if component.release is None:
        return status
    rows = status.get("releases") or []
    name = component.release
    return next((r for r in rows if isinstance(r, dict) and r.get("name") == name), {})
