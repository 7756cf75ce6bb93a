"""The routing table: the last good snapshot, with live state for each of its revisions."""

from __future__ import annotations

from mlservice.errors import Conflict
from mlservice.gateway.config import GatewayConfig
from mlservice.gateway.delta import SnapshotDelta
from mlservice.gateway.delta import apply as apply_delta
from mlservice.gateway.revision import RevisionState
from mlservice.gateway.signals import SignalHub
from mlservice.gateway.snapshot import Route, RoutingSnapshot


class RoutingTable:
    def __init__(self, *, config: GatewayConfig, hub: SignalHub) -> None:
        self.config = config
        self.hub = hub
        self.snapshot = RoutingSnapshot(version=0)
        self.routes: dict[str, Route] = {}
        self.revisions: dict[str, RevisionState] = {}
        self.any_host: Route | None = None
        """The route of every Host no route names: set by `mls agent` (one upstream, whatever
        the Host header says); None in the gateway, where an unknown host is a 404."""
        self.restored = False
        """Serving a snapshot read from disk at start: no delta applies to it until a full
        snapshot arrives (the sender's idea of our version may come from another run)."""

    @property
    def version(self) -> int:
        return self.snapshot.version

    def restore(self, snapshot: RoutingSnapshot) -> None:
        """Serve a snapshot saved by an earlier run until the control plane pushes."""
        self.replace(snapshot)
        self.restored = True

    def replace(self, snapshot: RoutingSnapshot) -> None:
        """Serve `snapshot` from now on, whatever its version (a restarted control plane may
        count from 1 again); revisions it keeps keep their replicas and queues."""
        self.restored = False
        revisions: dict[str, RevisionState] = {}
        for rid, revision in snapshot.revisions.items():
            state = self.revisions.get(rid)
            if state is None:
                state = RevisionState(revision, config=self.config, hub=self.hub)
            elif state.revision != revision:
                state.update(revision)
            revisions[rid] = state
        gone = [s for rid, s in self.revisions.items() if rid not in revisions]
        self.revisions = revisions
        self.routes = {host.lower(): route for host, route in snapshot.routes.items()}
        self.snapshot = snapshot
        for state in gone:
            state.close()  # after the new routes are in: its waiters route again against them

    def patch(self, delta: SnapshotDelta) -> None:
        """Apply a delta made against our version; Conflict (409) otherwise."""
        if self.restored:
            raise Conflict(
                f"The gateway restarted and serves its saved routing snapshot (version "
                f"{self.version}); send the full snapshot."
            )
        self.replace(apply_delta(self.snapshot, delta))

    def close(self) -> None:
        for state in self.revisions.values():
            for replica in state.replicas:
                replica.pool.close()
