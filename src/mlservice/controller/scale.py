"""How many replicas a revision runs: the `ScaleSource` seam and the bounds around it.

The autoscaler (a later issue) writes a desired scale per revision into a `ScaleSource`; the
controller stays the only one that tells the engine what to run, clamping that wish to the
component's `minReplicas`/`maxReplicas` and `mls up --max-replicas`. Without a wish (no
autoscaler, or a revision it has not seen yet) a component runs `minReplicas`, at least one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from mlservice.engine import RevisionId
from mlservice.resources.limits import MAX_REPLICAS

ScaleListener = Callable[[RevisionId], None]


class ScaleSource(Protocol):
    def desired(self, revision_id: RevisionId) -> int | None:
        """The wished replica count of a revision, or None for "no opinion"."""
        ...

    def subscribe(self, listener: ScaleListener) -> Callable[[], None]:
        """Call `listener(revision_id)` whenever a wish changes; returns an unsubscribe."""
        ...

    def configure(
        self,
        revision_id: RevisionId,
        *,
        annotations: Mapping[str, str] | None,
        min_replicas: int,
        max_replicas: int | None,
        container_concurrency: int | None,
    ) -> None:
        """What the autoscaler scales a running revision by; the controller calls it every
        pass (the autoscaler forgets a revision once it is no longer in `Context.owners`)."""
        ...


class ManualScale(ScaleSource):
    """Wishes set by hand (`set`), for tests that drive the scale themselves."""

    def __init__(self) -> None:
        self._wishes: dict[RevisionId, int] = {}
        self._listeners: list[ScaleListener] = []

    def desired(self, revision_id: RevisionId) -> int | None:
        return self._wishes.get(revision_id)

    def set(self, revision_id: RevisionId, replicas: int | None) -> None:
        if replicas is None:
            self._wishes.pop(revision_id, None)
        else:
            self._wishes[revision_id] = replicas
        for listener in list(self._listeners):
            listener(revision_id)

    def subscribe(self, listener: ScaleListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def configure(
        self,
        revision_id: RevisionId,
        *,
        annotations: Mapping[str, str] | None,
        min_replicas: int,
        max_replicas: int | None,
        container_concurrency: int | None,
    ) -> None:
        pass  # wishes are set by hand here


def replica_count(
    *, wanted: int | None, min_replicas: int, max_replicas: int | None, cap: int | None
) -> int:
    """`wanted` (default: `min_replicas`, at least 1) within the component's bounds and the
    machine-wide cap; `max_replicas` 0 or None means validation's ceiling, `MAX_REPLICAS`.

    The engine starts the replicas it is asked for one after another, so an unbounded count
    (an autoscaler's wish under load, an object stored before the bounds) would keep it busy
    forever; no count past the ceiling ever reaches it."""
    count = max(1, min_replicas) if wanted is None else max(wanted, min_replicas)
    count = min(count, max_replicas or MAX_REPLICAS, MAX_REPLICAS)
    if cap is not None:
        count = min(count, cap)
    return max(count, 0)
