"""Least outstanding requests over a revision's ready replicas, with a per-replica cap."""

from __future__ import annotations

from collections.abc import Sequence

from mlservice.gateway.snapshot import Endpoint
from mlservice.gateway.upstream import ConnectionPool


class Replica:
    """One ready replica as the balancer sees it: requests in flight, and whether usable."""

    __slots__ = ("address", "ejected_until", "grpc", "name", "outstanding", "pool", "removed")

    def __init__(self, endpoint: Endpoint, *, idle_seconds: float) -> None:
        self.name = endpoint.replica
        self.address = endpoint.address
        self.grpc = endpoint.grpc
        host, _, port = endpoint.address.rpartition(":")
        self.pool = ConnectionPool(host, int(port), idle_seconds=idle_seconds)
        self.outstanding = 0
        self.ejected_until = 0.0  # monotonic time; refused a connection until then
        self.removed = False  # gone from the snapshot: in-flight requests finish, no new ones

    def usable(self, now: float) -> bool:
        return not self.removed and self.ejected_until <= now

    def __repr__(self) -> str:
        return f"Replica({self.name!r}, {self.address}, outstanding={self.outstanding})"


def least_outstanding(
    replicas: Sequence[Replica], *, limit: int, now: float, start: int = 0
) -> Replica | None:
    """The usable replica with the fewest requests in flight, below `limit` (0: no limit).

    Ties go to the first found scanning from `start`, so rotating `start` spreads an idle
    revision's requests instead of piling them on one replica's connection pool.
    """
    best: Replica | None = None
    count = len(replicas)
    for step in range(count):
        replica = replicas[(start + step) % count]
        if replica.removed or replica.ejected_until > now:
            continue
        if limit and replica.outstanding >= limit:
            continue
        if best is None or replica.outstanding < best.outstanding:
            best = replica
            if best.outstanding == 0:
                break
    return best
