"""Snapshot deltas: what changed between two routing snapshots, and applying it.

The control plane pushes a full snapshot once, then deltas against the version the gateway
acknowledged. A delta whose `base` is not the gateway's version is refused (409), and the
sender falls back to a full snapshot: a lost or reordered delta can never corrupt the table.
On the wire a delta is this dataclass as JSON (`gateway/wire.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlservice.errors import Conflict
from mlservice.gateway.snapshot import PushedRoute, Revision, RoutingSnapshot, no_extra_fields


@no_extra_fields
@dataclass(frozen=True)
class SnapshotDelta:
    base: int  # the version this delta applies to
    version: int  # the version it produces
    revisions: tuple[Revision, ...] = ()  # added or changed, whole
    removed_revisions: tuple[str, ...] = ()
    routes: tuple[PushedRoute, ...] = ()  # added or changed, whole
    removed_routes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        changes = (self.revisions, self.removed_revisions, self.routes, self.removed_routes)
        return not any(changes)


def diff(old: RoutingSnapshot, new: RoutingSnapshot) -> SnapshotDelta:
    """The delta that turns `old` into `new`."""
    return SnapshotDelta(
        base=old.version,
        version=new.version,
        revisions=tuple(r for k, r in new.revisions.items() if old.revisions.get(k) != r),
        removed_revisions=tuple(k for k in old.revisions if k not in new.revisions),
        routes=tuple(r for k, r in new.routes.items() if old.routes.get(k) != r),
        removed_routes=tuple(k for k in old.routes if k not in new.routes),
    )


def apply(snapshot: RoutingSnapshot, delta: SnapshotDelta) -> RoutingSnapshot:
    """`snapshot` with `delta` applied; Conflict when the delta was made against another base."""
    if delta.base != snapshot.version:
        raise Conflict(
            f"Routing delta for base version {delta.base} does not apply to version "
            f"{snapshot.version}; send the full snapshot."
        )
    revisions = {k: r for k, r in snapshot.revisions.items() if k not in delta.removed_revisions}
    revisions.update((r.id, r) for r in delta.revisions)
    routes = {k: r for k, r in snapshot.routes.items() if k not in delta.removed_routes}
    routes.update((r.host, r) for r in delta.routes)
    return RoutingSnapshot(version=delta.version, revisions=revisions, routes=routes)
