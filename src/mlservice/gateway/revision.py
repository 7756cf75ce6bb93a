"""A revision as the gateway runs it: replicas, requests held for it, load and counters.

`acquire` hands out a replica at once or queues the caller; the queue drains as requests
finish, as replicas appear in a new snapshot, or as an ejection expires. A revision with no
ready replica is the activator's case: the first queued request sends an `Activation`.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import deque
from typing import Protocol

from mlservice.errors import Unavailable
from mlservice.gateway.balancer import Replica, least_outstanding
from mlservice.gateway.config import GatewayConfig
from mlservice.gateway.signals import Activation, SignalHub, Window
from mlservice.gateway.snapshot import Revision

# Seconds; request latency as the client sees it through the gateway.
BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
BUCKETS += (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
ACTIVATION_REPEAT = 1.0  # seconds between activation signals while requests keep waiting


class Waiter(Protocol):
    """A request waiting for a replica (an exchange)."""

    waiting: bool

    def granted(self, replica: Replica) -> None: ...

    def redispatch(self) -> None:
        """Its revision left the snapshot: route again from the top."""


class Counters:
    """Requests by status code and a latency histogram; read by the metrics collector."""

    __slots__ = ("_errors", "_taken", "buckets", "codes", "count", "seconds")

    def __init__(self) -> None:
        self.codes: dict[int, int] = {}
        self.buckets = [0] * (len(BUCKETS) + 1)
        self.count = 0
        self.seconds = 0.0
        self._errors = 0
        self._taken = (0, [0] * (len(BUCKETS) + 1))

    def take(self) -> tuple[int, tuple[int, ...]]:
        """5xx answers and latency bucket counts since the last take."""
        errors, buckets = self._taken
        delta = tuple(now - then for now, then in zip(self.buckets, buckets, strict=True))
        self._taken = (self._errors, list(self.buckets))
        return self._errors - errors, delta

    def observe(self, code: int, seconds: float) -> None:
        self.codes[code] = self.codes.get(code, 0) + 1
        if code >= 500:
            self._errors += 1
        self.buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.count += 1
        self.seconds += seconds


class RevisionState:
    def __init__(self, revision: Revision, *, config: GatewayConfig, hub: SignalHub) -> None:
        self.revision = revision
        self.config = config
        self.hub = hub
        self.replicas: list[Replica] = []
        self.waiters: deque[Waiter] = deque()
        self.queued = 0  # live entries in `waiters` (cancelled ones are skipped lazily)
        self.in_flight = 0
        self.window = Window(time.monotonic())
        self.counters = Counters()
        self.activations = 0
        self._last_activation = -ACTIVATION_REPEAT
        self._turn = 0
        self._wake: asyncio.TimerHandle | None = None
        self._set_replicas(revision)

    @property
    def id(self) -> str:
        return self.revision.id

    # -- requests
    def acquire(self, waiter: Waiter) -> Replica | None:
        """A replica for `waiter` now, or None after queueing it; Unavailable when it can't wait."""
        now = time.monotonic()
        self.window.requests += 1
        self.window.change(1, now)
        replica = self._pick(now) if not self.queued else None
        if replica is not None:
            return replica
        if not self.revision.activatable and not self.replicas:
            self.window.change(-1, now)
            raise Unavailable(f"Revision {self.id} has no ready replica and cannot be activated.")
        if self.queued >= self.config.queue_limit:
            self.window.change(-1, now)
            raise Unavailable(f"Revision {self.id} has {self.queued} requests queued (queue full).")
        self.waiters.append(waiter)
        self.queued += 1
        waiter.waiting = True
        if not any(r.usable(now) for r in self.replicas):
            self._activate(now)
            self._drain_after_ejections(now)
        return None

    def retry(self, waiter: Waiter, failed: Replica) -> Replica | None:
        """After a refused connection: eject `failed`, then acquire again (already counted)."""
        now = time.monotonic()
        failed.ejected_until = now + self.config.eject_seconds
        self._release_slot(failed)
        replica = self._pick(now) if not self.queued else None
        if replica is not None:
            return replica
        self.waiters.append(waiter)
        self.queued += 1
        waiter.waiting = True
        self._drain_after_ejections(now)
        return None

    def reroute(self, waiter: Waiter, failed: Replica) -> Replica | None:
        """After `failed` closed a connection without answering: another replica if one is
        free, else `failed` again if it is, else queue `waiter`. Not ejected: a keep-alive
        connection closed by the replica as we sent is no sign of a broken one."""
        now = time.monotonic()
        self._release_slot(failed)
        replica = None
        if not self.queued:
            limit = self.revision.container_concurrency
            others = [r for r in self.replicas if r is not failed]
            replica = least_outstanding(others, limit=limit, now=now, start=self._turn)
            replica = replica or least_outstanding([failed], limit=limit, now=now)
        if replica is not None:
            replica.outstanding += 1
            self.in_flight += 1
            return replica
        self.waiters.append(waiter)
        self.queued += 1
        waiter.waiting = True
        self._drain()  # the slot freed may be the one the queue needs
        return None

    def cancel(self, waiter: Waiter) -> None:
        """`waiter` gave up (timeout, client gone); it stays in the deque, skipped later."""
        if waiter.waiting:
            waiter.waiting = False
            self.queued -= 1

    def release(self, replica: Replica | None, *, code: int, seconds: float) -> None:
        """A request ended (answered, failed or abandoned): free its slot, record it."""
        self.window.change(-1, time.monotonic())
        self.counters.observe(code, seconds)
        if replica is not None:
            self._release_slot(replica)
            self._drain()

    def _release_slot(self, replica: Replica) -> None:
        replica.outstanding -= 1
        self.in_flight -= 1
        if replica.removed and replica.outstanding == 0:
            replica.pool.close()

    def _pick(self, now: float) -> Replica | None:
        self._turn += 1
        replica = least_outstanding(
            self.replicas, limit=self.revision.container_concurrency, now=now, start=self._turn
        )
        if replica is not None:
            replica.outstanding += 1
            self.in_flight += 1
        return replica

    def _drain(self) -> None:
        now = time.monotonic()
        while self.queued:
            waiter = self.waiters[0]
            if not waiter.waiting:
                self.waiters.popleft()
                continue
            replica = self._pick(now)
            if replica is None:
                self._drain_after_ejections(now)
                return
            self.waiters.popleft()
            self.queued -= 1
            waiter.waiting = False
            waiter.granted(replica)

    def _drain_after_ejections(self, now: float) -> None:
        """Waiters blocked only by ejected replicas try again when the first ejection ends."""
        ends = [r.ejected_until for r in self.replicas if not r.removed and r.ejected_until > now]
        if ends and self._wake is None:
            # A little late rather than early: the loop's clock may run behind time.monotonic.
            delay = min(ends) - now + 0.005
            self._wake = asyncio.get_running_loop().call_later(delay, self._woken)

    def _woken(self) -> None:
        self._wake = None
        self._drain()

    def _activate(self, now: float) -> None:
        if now - self._last_activation >= ACTIVATION_REPEAT:
            self._last_activation = now
            self.activations += 1
            self.hub.publish(Activation(revision=self.id, time=time.time(), queued=self.queued))

    # -- snapshots
    def update(self, revision: Revision) -> None:
        self.revision = revision
        self._set_replicas(revision)
        if self.replicas:
            self._last_activation = -ACTIVATION_REPEAT  # the next time it hits zero is news
        self._drain()

    def _set_replicas(self, revision: Revision) -> None:
        """Keep replicas still listed (their counts and pools), add new ones, retire the rest."""
        known = {r.address: r for r in self.replicas}
        listed = []
        for endpoint in revision.endpoints:
            replica = known.pop(endpoint.address, None)
            if replica is not None and replica.name != endpoint.replica:
                self._retire(replica)  # a new replica on a port the old one had
                replica = None
            if replica is None:
                replica = Replica(endpoint, idle_seconds=self.config.idle_upstream_seconds)
            listed.append(replica)
        for gone in known.values():
            self._retire(gone)
        self.replicas = listed

    def _retire(self, replica: Replica) -> None:
        replica.removed = True
        if replica.outstanding == 0:
            replica.pool.close()

    def close(self) -> None:
        """The revision left the snapshot: its waiters route again, its replicas retire."""
        for replica in self.replicas:
            self._retire(replica)
        self.replicas = []
        waiters, self.waiters = self.waiters, deque()
        now = time.monotonic()
        for waiter in waiters:
            if waiter.waiting:
                self.cancel(waiter)
                self.window.change(-1, now)  # it counts against the revision it lands on next
                waiter.redispatch()
