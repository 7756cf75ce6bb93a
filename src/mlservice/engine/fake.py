"""An in-memory engine for controller unit tests: nothing runs; tests turn the knobs.

Replicas appear `Pending` (or `Running` and ready with `auto_ready=True`); `mark_ready`,
`crash`, `set_phase` change them and notify subscribers as the real engine would. `calls`
records every `prepare`/`ensure`/`stop` so a test can assert what the controller asked for.
`prepare` runs the given hook (e.g. the local engine's `Resolver.resolve`, so controller tests
see real downloads and Secret errors) and keeps its result in `prepared`.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

from mlservice.engine.base import (
    Engine,
    EventType,
    Listener,
    Phase,
    PrepareFailure,
    ReplicaEvent,
    ReplicaId,
    ReplicaState,
)
from mlservice.engine.revision import Revision, RevisionId
from mlservice.errors import NotFound

PrepareHook = Callable[[Revision], Awaitable[object]]


@dataclass(frozen=True)
class Call:
    method: str  # "prepare" | "ensure" | "stop"
    revision_id: RevisionId
    replicas: int | None = None


class FakeEngine(Engine):
    def __init__(
        self,
        *,
        auto_ready: bool = False,
        first_port: int = 20000,
        prepare: PrepareHook | None = None,
    ) -> None:
        self.auto_ready = auto_ready
        self.calls: list[Call] = []
        self.specs: dict[RevisionId, Revision] = {}
        self.prepared: dict[RevisionId, object] = {}
        self.failures: dict[RevisionId, PrepareFailure] = {}
        """What `failed_preparations` reports; tests set it."""
        self._prepare = prepare
        self.closed = False
        self._replicas: dict[RevisionId, dict[ReplicaId, ReplicaState]] = {}
        self._listeners: list[Listener] = []
        self._ports = itertools.count(first_port)
        self._ids = itertools.count(1)

    async def prepare(self, revision: Revision) -> None:
        self.calls.append(Call("prepare", revision.id))
        result = await self._prepare(revision) if self._prepare is not None else revision
        self.prepared[revision.id] = result

    async def ensure(self, revision: Revision, replicas: int) -> None:
        if revision.id not in self.prepared:
            await self.prepare(revision)
        self.calls.append(Call("ensure", revision.id, replicas))
        if self.specs.get(revision.id, revision) != revision:
            self._remove_all(revision.id)
        self.specs[revision.id] = revision
        current = self._replicas.setdefault(revision.id, {})
        while len(current) < replicas:
            state = self._new_replica(revision)
            current[state.id] = state
            self._emit("ADDED", state)
        for replica_id in list(current)[replicas:]:
            self._emit("DELETED", current.pop(replica_id))

    async def stop(self, revision_id: RevisionId) -> None:
        self.calls.append(Call("stop", revision_id))
        self._remove_all(revision_id)
        self._replicas.pop(revision_id, None)
        self.specs.pop(revision_id, None)
        self.prepared.pop(revision_id, None)
        self.failures.pop(revision_id, None)

    async def replicas(self, revision_id: RevisionId | None = None) -> list[ReplicaState]:
        return [
            state
            for rev, states in self._replicas.items()
            if revision_id in (None, rev)
            for state in states.values()
        ]

    async def revisions(self) -> list[RevisionId]:
        return list(self._replicas)

    async def restart(self, replica_id: ReplicaId) -> bool:
        for revision_id, states in self._replicas.items():
            if replica_id in states:
                state = self._new_replica(self.specs[revision_id])
                states[state.id] = state
                self._emit("ADDED", state)
                self._emit("DELETED", states.pop(replica_id))
                return True
        return False

    async def failed_preparations(self) -> list[PrepareFailure]:
        return list(self.failures.values())

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def close(self) -> None:
        for revision_id in list(self._replicas):
            self._remove_all(revision_id)
        self._replicas.clear()
        self.closed = True

    # -- knobs ---------------------------------------------------------------------------

    def mark_ready(self, replica_id: ReplicaId, ready: bool = True) -> ReplicaState:
        return self._update(replica_id, phase="Running", ready=ready, reason="", message="")

    def crash(self, replica_id: ReplicaId, message: str = "exited with code 1") -> ReplicaState:
        old = self._find(replica_id)
        return self._update(
            replica_id,
            phase="CrashLoopBackOff",
            ready=False,
            restarts=old.restarts + 1,
            reason="CrashLoopBackOff",
            message=message,
        )

    def set_phase(self, replica_id: ReplicaId, phase: Phase, *, reason: str = "") -> ReplicaState:
        return self._update(replica_id, phase=phase, ready=phase == "Running", reason=reason)

    def mark_all_ready(self, revision_id: RevisionId) -> list[ReplicaState]:
        return [self.mark_ready(r) for r in list(self._replicas.get(revision_id, {}))]

    # -- internals -----------------------------------------------------------------------

    def _new_replica(self, revision: Revision) -> ReplicaState:
        replica_id = ReplicaId(f"{revision.name}-{next(self._ids):05d}")
        return ReplicaState(
            id=replica_id,
            revision_id=revision.id,
            phase="Running" if self.auto_ready else "Pending",
            ready=self.auto_ready,
            pid=None,
            port=next(self._ports),
            grpc_port=next(self._ports),
            restarts=0,
            logs={c.name: Path(f"/fake/{replica_id}/{c.name}.log") for c in revision.containers},
            created=time.time(),
            revision=revision,
        )

    def _find(self, replica_id: ReplicaId) -> ReplicaState:
        for states in self._replicas.values():
            if replica_id in states:
                return states[replica_id]
        raise NotFound(f"replica {replica_id} does not exist in the fake engine.")

    def _update(self, replica_id: ReplicaId, **changes: object) -> ReplicaState:
        old = self._find(replica_id)
        new = replace(old, **changes)  # type: ignore[arg-type]
        self._replicas[old.revision_id][replica_id] = new
        self._emit("MODIFIED", new)
        return new

    def _remove_all(self, revision_id: RevisionId) -> None:
        states = self._replicas.get(revision_id, {})
        for replica_id in list(states):
            self._emit("DELETED", states.pop(replica_id))

    def _emit(self, kind: EventType, state: ReplicaState) -> None:
        for listener in list(self._listeners):
            listener(ReplicaEvent(kind, state))
