"""The revisions of one component: one release's predictor, a transformer, a SimpleMLService.

A `Track` turns "run this" (a `Plan`, identified by the hash of everything that makes the
revision) into engine calls. A new hash makes a new revision, started at the serving
revision's scale; the serving one keeps running until the new one has all its replicas
ready, and stopped a drain period after the routing snapshot that drops it went out (no gap,
no request sent to a replica shutting down). A revision that never became ready is stopped
as soon as a newer one replaces it. Failures before any replica can run (model download,
missing program, bad template) are kept as `failure` while the serving revision goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mlservice.engine import Engine, ReplicaState, Revision, RevisionId
from mlservice.errors import InvalidInput, RuntimeUnavailable, StorageError
from mlservice.naming import ComponentKey, revision_name, sequence_of

Note = Callable[[str, str, bool], None]  # (reason, message, warning)
BROKEN = ("CrashLoopBackOff", "OOMKilled", "PortConflict", "Failed")
UNSCHEDULABLE = "Unschedulable"  # a replica waiting for resources the machine lacks (GPUs)
DOWNLOAD_RETRY = (5.0, 60.0)  # first delay, cap: a missing volume or bucket may appear later


@dataclass(frozen=True)
class Failure:
    reason: str
    message: str


@dataclass(frozen=True)
class Plan:
    """What the component should run: `hash` identifies it; `build(name)` makes the
    engine-neutral revision once it has a name (the engine then prepares it)."""

    hash: str
    build: Callable[[str], Revision]
    annotations: Mapping[str, str] = field(default_factory=dict)  # the KPA reads its own keys


@dataclass
class _Revision:
    name: str
    hash: str
    spec: Revision | None = None  # None until prepared by the engine (model in place)


@dataclass(frozen=True)
class TrackView:
    """What status and routing need to know about a track, at one moment."""

    latest: str | None
    serving: str | None
    hash: str | None
    scale: int
    failure: Failure | None
    replicas: Mapping[str, tuple[ReplicaState, ...]] = field(default_factory=dict)
    built: bool = False  # the newest revision was built: its model is in place

    def ready_count(self) -> int:
        return sum(r.ready for states in self.replicas.values() for r in states)

    def total_count(self) -> int:
        return sum(len(states) for states in self.replicas.values())

    def problem(self) -> ReplicaState | None:
        """A broken replica of the newest revision that has replicas, if any."""
        for name in (self.latest, self.serving):
            broken = [r for r in self.replicas.get(name or "", ()) if r.phase in BROKEN]
            if broken:
                return broken[0]
        return None

    def unschedulable(self) -> ReplicaState | None:
        """A replica of the newest revision waiting for resources (not broken: it starts
        once they are free), if any."""
        states = self.replicas.get(self.latest or "", ())
        return next((r for r in states if r.reason == UNSCHEDULABLE and not r.ready), None)


class Track:
    def __init__(
        self,
        *,
        engine: Engine,
        namespace: str,
        service: str,
        key: ComponentKey,
        note: Note,
        owners: dict[RevisionId, object],
        owner: object,
        drain_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.namespace = namespace
        self.service = service
        self.key = key
        self.latest: _Revision | None = None
        self.serving: _Revision | None = None
        self.failure: Failure | None = None
        self.scale = 0
        self._note = note
        self._owners = owners
        self._owner = owner
        self._download_failures = 0
        self._crashes: dict[str, int] = {}
        self._retiring: list[tuple[_Revision, str, float]] = []  # revision, successor, since
        self._clock = clock
        self._drain = drain_seconds
        self._hold = False

    def restore(self, name: str | None, hash_: str | None) -> None:
        """Continue the naming of an earlier run (from status): the same hash keeps the name."""
        if name and hash_ and self.latest is None:
            self.latest = _Revision(name, hash_)
            self._owners[self._id(name)] = self._owner

    async def step(
        self, outcome: Plan | Failure, *, scale: int, hold: bool = False
    ) -> float | None:
        """Converge once; returns seconds after which to try again, if a retry may help.

        `hold` keeps the serving revision serving beside a ready newer one (a canary: the
        caller splits traffic between them); without it the newer one replaces it."""
        self.scale = scale
        self._hold = hold
        await self._retire(drained_only=True)
        delay = await self._converge(outcome, scale=scale)
        if self._retiring:
            return min(delay, self._drain) if delay is not None else self._drain
        return delay

    async def _converge(self, outcome: Plan | Failure, *, scale: int) -> float | None:
        if isinstance(outcome, Failure):
            self._fail(outcome)
            await self._run_serving_only()
            return None
        if self.latest is None or self.latest.hash != outcome.hash:
            await self._replace_latest(outcome.hash)
        assert self.latest is not None
        if self.latest.spec is None:
            delay = await self._build(self.latest, outcome)
            if self.latest.spec is None:
                await self._run_serving_only()
                return delay
        try:
            await self.engine.ensure(self.latest.spec, scale)
        except InvalidInput as err:  # the engine cannot run this spec at all
            self._fail(Failure("InvalidSpec", err.message))
            await self._run_serving_only()
            return None
        self.failure = None
        if self.serving is not None and self.serving is not self.latest:
            assert self.serving.spec is not None
            await self.engine.ensure(self.serving.spec, scale)
        await self._promote_when_ready()
        return None

    async def view(self) -> TrackView:
        replicas = {}
        # Retiring revisions still run (and count in totalReplicas) until their drain ends.
        running = (self.serving, self.latest, *(old for old, _, _ in self._retiring))
        for rev in {id(r): r for r in running if r and r.spec}.values():
            replicas[rev.name] = tuple(await self.engine.replicas(self._id(rev.name)))
        self._note_crashes(replicas)
        return TrackView(
            latest=self.latest.name if self.latest else None,
            serving=self.serving.name if self.serving else None,
            hash=self.latest.hash if self.latest else None,
            scale=self.scale,
            failure=self.failure,
            replicas=replicas,
            built=self.latest is not None and self.latest.spec is not None,
        )

    async def stop(self) -> None:
        await self._retire(drained_only=False)
        for rev in (self.serving, self.latest):
            if rev is not None:
                await self._stop(rev)
        self.serving = self.latest = None

    def revision_id(self, name: str) -> RevisionId:
        return self._id(name)

    # -- internals ---------------------------------------------------------------------

    def _id(self, name: str) -> RevisionId:
        return RevisionId(f"{self.namespace}/{name}")

    async def _replace_latest(self, hash_: str) -> None:
        old = self.latest
        if self.serving is not None and self.serving.hash == hash_:
            # Back to what still serves (a change undone mid-rollout): no new revision.
            self.latest = self.serving
            if old is not None and old is not self.serving:
                await self._stop(old)
                self._note("RevisionStopped", f"Stopped revision {old.name}.", False)
            return
        sequence = sequence_of(old.name) + 1 if old else 1
        name = revision_name(self.service, self.key, sequence)
        self.latest = _Revision(name, hash_)
        self._owners[self._id(name)] = self._owner
        self._note("RevisionCreated", f"Created revision {name}.", False)
        if old is not None and old is not self.serving:
            await self._stop(old)
            message = f"Stopped revision {old.name}: {name} replaces it."
            self._note("RevisionStopped", message, False)

    async def _build(self, rev: _Revision, plan: Plan) -> float | None:
        spec = plan.build(rev.name)
        try:
            await self.engine.prepare(spec)
        except StorageError as err:
            self._download_failures += 1
            self._fail(Failure("ModelDownloadFailed", err.message))
            first, cap = DOWNLOAD_RETRY
            return float(min(first * 2 ** (self._download_failures - 1), cap))
        except RuntimeUnavailable as err:
            self._fail(Failure("RuntimeUnavailable", str(err)))
        except InvalidInput as err:
            self._fail(Failure("CreateContainerConfigError", err.message))
        else:
            rev.spec = spec
            self._download_failures = 0
        return None

    async def _run_serving_only(self) -> None:
        if self.serving is not None and self.serving.spec is not None:
            await self.engine.ensure(self.serving.spec, self.scale)

    async def _promote_when_ready(self) -> None:
        latest = self.latest
        if latest is None or latest is self.serving or self.scale == 0:
            return
        if self._hold and self.serving is not None:
            return
        states = await self.engine.replicas(self._id(latest.name))
        ready = sum(s.ready for s in states)
        if ready < self.scale:
            return
        old, self.serving = self.serving, latest
        self._note("RevisionReady", f"Revision {latest.name} is ready ({ready} ready).", False)
        if old is not None:
            # Stopped on a later pass, once the snapshot routing to `latest` has gone out.
            self._retiring.append((old, latest.name, self._clock()))

    async def _retire(self, *, drained_only: bool) -> None:
        now, keep = self._clock(), []
        for old, successor, since in self._retiring:
            if drained_only and now - since < self._drain:
                keep.append((old, successor, since))
                continue
            await self._stop(old)
            self._note(
                "RevisionStopped", f"Stopped revision {old.name}: {successor} serves.", False
            )
            self._note("RolloutComplete", f"Rolled out revision {successor}.", False)
        self._retiring = keep

    async def _stop(self, rev: _Revision) -> None:
        await self.engine.stop(self._id(rev.name))
        self._owners.pop(self._id(rev.name), None)

    def _fail(self, failure: Failure) -> None:
        if failure != self.failure:
            self._note(failure.reason, failure.message, True)
        self.failure = failure

    def _note_crashes(self, replicas: Mapping[str, tuple[ReplicaState, ...]]) -> None:
        live = {r.id for states in replicas.values() for r in states}
        self._crashes = {k: v for k, v in self._crashes.items() if k in live}
        for states in replicas.values():
            for replica in states:
                if replica.phase in BROKEN and self._crashes.get(replica.id) != replica.restarts:
                    self._crashes[replica.id] = replica.restarts
                    headline = replica.message.split("\n", 1)[0].split("; restarting", 1)[0]
                    self._note(replica.reason or replica.phase, f"{replica.id}: {headline}", True)
