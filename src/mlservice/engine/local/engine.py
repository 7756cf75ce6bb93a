"""The local engine: replicas as supervised processes on this machine."""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import secrets
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from mlservice.engine.base import (
    Engine,
    EventType,
    Listener,
    PrepareFailure,
    ReplicaEvent,
    ReplicaId,
    ReplicaState,
)
from mlservice.engine.local.adoption import Adoptable, find_adoptable
from mlservice.engine.local.config import LocalEngineConfig
from mlservice.engine.local.credentials import (
    SecretLookup,
    ServiceAccountLookup,
    no_service_accounts,
)
from mlservice.engine.local.gpus import GpuLister, GpuPool, nvidia_smi_gpus
from mlservice.engine.local.paths import revision_dir, storage_log
from mlservice.engine.local.pidfiles import ProcessRecord, current_process, reap_leftovers
from mlservice.engine.local.ports import PortPool
from mlservice.engine.local.probes import plan_probe
from mlservice.engine.local.process import ProcessSpawner, Spawner
from mlservice.engine.local.replica import Replica
from mlservice.engine.local.resolve import LocalRevision, Resolver, no_secrets
from mlservice.engine.local.resources import plan_resources
from mlservice.engine.local.watchdog import Limited, watch
from mlservice.engine.revision import Revision, RevisionId
from mlservice.errors import InvalidInput, MLServiceError, StorageError, Unavailable

log = logging.getLogger(__name__)
_ID_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' pod-name suffix alphabet


@dataclass
class _Revision:
    spec: LocalRevision
    replicas: dict[ReplicaId, Replica] = field(default_factory=dict)


class LocalEngine(Engine):
    """Implements `Engine`. Use as `async with LocalEngine(config) as engine:` or call
    `start()` (reaps leftovers of a dead engine; `ensure` calls it too) and `close()`."""

    def __init__(
        self,
        config: LocalEngineConfig,
        *,
        secrets: SecretLookup = no_secrets,
        accounts: ServiceAccountLookup = no_service_accounts,
        spawner: ProcessSpawner | None = None,
        gpus: GpuLister = nvidia_smi_gpus,
    ) -> None:
        self.config = config
        self._given_spawner = spawner
        self._adoptable: dict[RevisionId, list[Adoptable]] = {}
        self._adoption: asyncio.Task[None] | None = None
        self._resolver = Resolver(
            home=config.home,
            secrets=secrets,
            accounts=accounts,
            gateway=config.gateway_address,
        )
        self._prepared: dict[RevisionId, LocalRevision] = {}
        self._failures: dict[RevisionId, PrepareFailure] = {}
        self._pool = PortPool(config.port_range, quarantine=config.port_quarantine)
        self._gpus = GpuPool(gpus)
        self._revisions: dict[RevisionId, _Revision] = {}
        self._locks: defaultdict[RevisionId, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._listeners: list[Listener] = []
        self._last: dict[ReplicaId, ReplicaState] = {}
        self._cpu_offset = itertools.count()
        self._spawner: ProcessSpawner | None = None
        self._owner: ProcessRecord | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._closed = False
        self._start_lock = asyncio.Lock()

    async def start(self) -> list[int]:
        """Adopt what a previous engine left running under the same spawner, reap what a dead
        engine left under the same home; returns the pids it killed."""
        async with self._start_lock:
            if self._spawner is not None:
                return []
            home = self.config.home
            home.replicas.mkdir(parents=True, exist_ok=True)
            spawner = self._given_spawner or Spawner(warm=self.config.warm_standby)
            self._spawner, self._owner = spawner, spawner.owner
            if spawner.owner != current_process():
                running = await spawner.running()
                found = await asyncio.to_thread(
                    find_adoptable, home, owner=spawner.owner, running=running
                )
                for candidate in found:
                    self._adoptable.setdefault(candidate.revision_id, []).append(candidate)
                if found:
                    log.info("%d running replica(s) may be adopted", len(found))
                    self._adoption = asyncio.create_task(self._end_adoption(), name="adoption")
            reaped = await asyncio.to_thread(reap_leftovers, home)
            self._watchdog = asyncio.create_task(
                watch(self._limited, period=self.config.watchdog_period),
                name="mls-memory-watchdog",
            )
            return reaped

    async def prepare(self, revision: Revision) -> None:
        await self._local(revision)

    async def ensure(self, revision: Revision, replicas: int) -> None:
        if replicas < 0:
            raise InvalidInput(f"revision {revision.id} cannot have {replicas} replicas.")
        if self._closed:
            raise Unavailable(f"the local engine is closed; revision {revision.id} not started.")
        local = await self._local(revision)
        await self.start()
        async with self._locks[revision.id]:
            entry = self._revisions.get(revision.id)
            if entry is not None and entry.spec.revision != revision:
                log.info("revision %s changed its spec; replacing its replicas", revision.id)
                await self._remove(entry, list(entry.replicas.values()))
            if entry is None or entry.spec.revision != revision:
                entry = self._revisions[revision.id] = _Revision(local)
            while len(entry.replicas) < replicas:
                self._add(entry)
                await asyncio.sleep(0)  # many replicas must not starve the loop (the API)
            surplus = len(entry.replicas) - replicas
            if surplus > 0:
                newest_first = reversed(list(entry.replicas.values()))
                await self._remove(entry, sorted(newest_first, key=_removal_order)[:surplus])

    async def stop(self, revision_id: RevisionId) -> None:
        self._prepared.pop(revision_id, None)
        self._failures.pop(revision_id, None)
        await self._abandon(self._adoptable.pop(revision_id, []))
        async with self._locks[revision_id]:
            entry = self._revisions.pop(revision_id, None)
            if entry is not None:
                await self._remove(entry, list(entry.replicas.values()))
                namespace, name = revision_id.split("/", 1)
                shutil.rmtree(revision_dir(self.config.home, namespace, name), ignore_errors=True)

    async def replicas(self, revision_id: RevisionId | None = None) -> list[ReplicaState]:
        return [
            replica.state()
            for rev, entry in self._revisions.items()
            if revision_id in (None, rev)
            for replica in entry.replicas.values()
        ]

    async def revisions(self) -> list[RevisionId]:
        return list(self._revisions)

    async def restart(self, replica_id: ReplicaId) -> bool:
        for revision_id, entry in list(self._revisions.items()):
            if replica_id in entry.replicas:
                async with self._locks[revision_id]:
                    victim = entry.replicas.get(replica_id)
                    if victim is None or self._revisions.get(revision_id) is not entry:
                        return False
                    self._add(entry)  # the new one starts while the old one stops
                    await self._remove(entry, [victim])
                return True
        return False

    async def failed_preparations(self) -> list[PrepareFailure]:
        return list(self._failures.values())

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return functools.partial(self._unsubscribe, listener)

    async def close(self) -> None:
        self._closed = True
        if self._adoption is not None:
            self._adoption.cancel()
        await asyncio.gather(*(self.stop(rev) for rev in list(self._revisions)))
        for candidates in list(self._adoptable.values()):
            await self._abandon(candidates)
        self._adoptable.clear()
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
        if self._spawner is not None and self._given_spawner is None:
            await self._spawner.aclose()

    async def __aenter__(self) -> LocalEngine:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- internals ---------------------------------------------------------------------

    async def _local(self, revision: Revision) -> LocalRevision:
        """The revision resolved on this machine, once per spec."""
        local = self._prepared.get(revision.id)
        if local is None or local.revision != revision:
            try:
                local = await self._resolver.resolve(revision)
                self._validate(local)
            except MLServiceError as err:
                self._failed(revision, err)
                raise
            self._failures.pop(revision.id, None)
            self._prepared[revision.id] = local
        return local

    def _failed(self, revision: Revision, err: MLServiceError) -> None:
        """Remember the failure until a later prepare succeeds or the revision is stopped."""
        before = self._failures.get(revision.id)
        same = before is not None and before.revision == revision
        self._failures[revision.id] = PrepareFailure(
            revision=revision,
            reason=err.reason,
            message=err.message,
            failures=before.failures + 1 if same and before else 1,
            since=before.since if same and before else time.time(),
            storage=isinstance(err, StorageError),
            log=storage_log(self.config.home, revision.namespace, revision.name),
        )

    def _validate(self, revision: LocalRevision) -> None:
        """Raise InvalidInput now for what would otherwise fail every start."""
        for container in revision.containers:
            plan_resources(container)
            is_server = container is revision.user_container
            plan_probe(container, is_server=is_server, port=0, config=self.config)

    def _add(self, entry: _Revision) -> None:
        assert self._spawner is not None, "start() runs before _add"
        assert self._owner is not None
        adopt = self._claim(entry.spec)
        replica_id = adopt.replica_id if adopt is not None else self._new_id(entry.spec)
        replica = Replica(
            entry.spec,
            replica_id,
            config=self.config,
            pool=self._pool,
            spawner=self._spawner,
            cpu_offset=next(self._cpu_offset),
            on_change=self._changed,
            adopt=adopt,
            gpus=self._gpus,
        )
        entry.replicas[replica_id] = replica
        replica.start(self._owner)
        self._last[replica_id] = state = replica.state()
        self._emit("ADDED", state)

    async def _remove(self, entry: _Revision, victims: list[Replica]) -> None:
        await asyncio.gather(*(replica.stop() for replica in victims))
        for replica in victims:
            entry.replicas.pop(replica.id, None)
            self._last.pop(replica.id, None)
            self._emit("DELETED", replica.state())

    def _changed(self, replica: Replica) -> None:
        if replica.id not in self._last:
            return  # not announced yet, or already gone
        state = replica.state()
        if state != self._last[replica.id]:
            self._last[replica.id] = state
            self._emit("MODIFIED", state)

    def _emit(self, kind: EventType, state: ReplicaState) -> None:
        event = ReplicaEvent(kind, state)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # one broken listener must not starve the others
                log.exception("engine listener failed on %s %s", kind, state.id)

    def _unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _new_id(self, revision: LocalRevision) -> ReplicaId:
        while True:
            suffix = "".join(secrets.choice(_ID_ALPHABET) for _ in range(5))
            candidate = ReplicaId(f"{revision.revision.name}-{suffix}")
            if candidate not in self._last:
                return candidate

    def _claim(self, revision: LocalRevision) -> Adoptable | None:
        """A running replica left by the previous control plane for this very spec."""
        candidates = self._adoptable.get(revision.id, [])
        for candidate in candidates:
            if candidate.record.hash == revision.revision.hash:
                candidates.remove(candidate)
                log.info("adopted replica %s of %s", candidate.replica_id, revision.id)
                return candidate
        return None

    async def _end_adoption(self) -> None:
        await asyncio.sleep(self.config.adoption_grace)
        left, self._adoptable = self._adoptable, {}
        for candidates in left.values():
            await self._abandon(candidates)

    async def _abandon(self, candidates: list[Adoptable]) -> None:
        """Stop replicas nobody adopted and remove their directories."""
        for candidate in candidates:
            log.info("stopping unclaimed replica %s", candidate.replica_id)
            await asyncio.gather(
                *(p.terminate(self.config.stop_grace) for p in candidate.processes.values())
            )
            shutil.rmtree(candidate.dirs.root, ignore_errors=True)

    def _limited(self) -> list[Limited]:
        found = []
        for entry in self._revisions.values():
            for replica in entry.replicas.values():
                for runner in replica.runners:
                    proc = runner.process
                    if runner.memory_limit and proc is not None and not proc.exited.done():
                        kill = functools.partial(runner.oom_kill, proc)
                        found.append(Limited(proc.pid, runner.memory_limit, kill))
        return found


def _removal_order(replica: Replica) -> tuple[int, bool]:
    """Scale down the broken first, then the unready, then the newest."""
    state = replica.state()
    broken = state.phase in ("Failed", "CrashLoopBackOff", "OOMKilled", "PortConflict")
    return (0 if broken else 1, state.ready)
