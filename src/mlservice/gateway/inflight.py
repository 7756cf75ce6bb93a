"""What an HTTP/1.1 exchange (exchange.py) and a gRPC call (grpcproxy.py) do alike between
routing and their answer: wait for a replica under one timer, and try another replica when a
connection is refused.

A base class, not a helper object: the request path makes no call and allocates nothing it
did not before the two shared these steps (no `__init__` here; each subclass sets every
attribute, these included, in its own).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from mlservice.gateway.balancer import Replica

if TYPE_CHECKING:
    from mlservice.gateway.core import Core
    from mlservice.gateway.revision import RevisionState


class InFlight:
    """One request on its way through a revision: its queue place, its timer, its tries."""

    __slots__ = (
        "_timer",
        "attempts",
        "core",
        "deadline",
        "finished",
        "replica",
        "started",
        "state",
        "waiting",
    )

    _timer: asyncio.TimerHandle | None
    attempts: int  # connections refused so far
    core: Core
    deadline: float | None  # the client's own (gRPC's `grpc-timeout`); HTTP/1.1 has none
    finished: bool
    replica: Replica | None
    started: float
    state: RevisionState | None
    waiting: bool  # queued in `state` (revision.Waiter)

    def attach(self, replica: Replica) -> None:
        """Send to `replica`, on a connection of the pool or a new one."""
        raise NotImplementedError

    def redispatch(self) -> None:
        """Its revision left the snapshot while it waited: route again."""
        raise NotImplementedError

    def granted(self, replica: Replica) -> None:
        """A queued request's replica: the revision's timeout bounds it from now on."""
        assert self.state is not None
        bound = self.started + self.state.revision.timeout_seconds
        self._arm(bound if self.deadline is None else min(bound, self.deadline))
        self.attach(replica)

    def _refused(self, replica: Replica, address: str | None, exc: Exception) -> str | None:
        """A connect failed, so nothing was sent: the one case worth another replica. None
        while tries remain (another is attached, or we queue for one); after the last, the
        replica is ejected and this says why, for the caller's own answer."""
        state = self.state
        assert state is not None
        self.attempts += 1
        if self.attempts >= self.core.config.connect_attempts:
            replica.ejected_until = time.monotonic() + self.core.config.eject_seconds
            reason = str(exc) or type(exc).__name__
            return f"Replica {replica.name} ({address}) of {state.id} refused: {reason}."
        self.replica = None
        other = state.retry(self, replica)
        if other is not None:
            self.attach(other)
        return None

    def _arm(self, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.core.loop.call_at(deadline, self._expired)

    def _expired(self) -> None:
        self._timer = None
        state = self.state
        if not self.finished and state is not None:
            self._timed_out(state)

    def _timed_out(self, state: RevisionState) -> None:
        """The timer ran out while routed and not finished: each protocol answers its way."""
        raise NotImplementedError
