"""One replica: its directory, its ports, and a runner per container.

The server container (`user-container`) listens on the replica's `PORT`, from the pool unless
the container pins a fixed port. Sidecars share the replica's variables and claim the ports
they declare. The replica's state is its containers' worst.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from mlservice.engine.base import Phase, ReplicaId, ReplicaState
from mlservice.engine.local.adoption import Adoptable, ReplicaRecord, process_tag
from mlservice.engine.local.config import LocalEngineConfig
from mlservice.engine.local.gpus import VISIBLE_DEVICES, GpuPool
from mlservice.engine.local.launch import (
    ReplicaContext,
    build_launch,
    container_port,
    uses_dynamic_port,
)
from mlservice.engine.local.paths import STORAGE_INITIALIZER, replica_dir, storage_log
from mlservice.engine.local.pidfiles import ProcessRecord, write_record
from mlservice.engine.local.ports import PortPool
from mlservice.engine.local.probes import ProbePlan, plan_probe
from mlservice.engine.local.process import Launch, ProcessSpawner
from mlservice.engine.local.procfs import environ_value
from mlservice.engine.local.resolve import LocalRevision
from mlservice.engine.local.resources import pick_cpus, plan_resources
from mlservice.engine.local.supervisor import ContainerRunner
from mlservice.errors import Unavailable
from mlservice.runtime import RenderedContainer

_SEVERITY: dict[Phase, int] = {
    "Running": 0,
    "Starting": 1,
    "Pending": 2,
    "PortConflict": 3,
    "CrashLoopBackOff": 4,
    "OOMKilled": 5,
    "Failed": 6,
    "Terminating": 7,
}


class Replica:
    def __init__(
        self,
        revision: LocalRevision,
        replica_id: ReplicaId,
        *,
        config: LocalEngineConfig,
        pool: PortPool,
        spawner: ProcessSpawner,
        cpu_offset: int,
        on_change: Callable[[Replica], None],
        adopt: Adoptable | None = None,
        gpus: GpuPool | None = None,
    ) -> None:
        self.id = replica_id
        self.revision = revision
        self.config = config
        self.spawner = spawner
        rev = revision.revision
        self.dirs = replica_dir(config.home, rev.namespace, rev.name, replica_id)
        self._pool = pool
        self._gpus = gpus or GpuPool()
        self._on_change = on_change
        self._server = revision.user_container.name
        self._dynamic = uses_dynamic_port(revision.user_container)
        self.adopted = adopt is not None
        self.created = _made(adopt) if adopt is not None else time.time()
        if adopt is not None:
            self.port, self.grpc_port = adopt.record.port, adopt.record.grpc_port
            for port in {self.port, self.grpc_port} if self._dynamic else {self.grpc_port}:
                pool.adopt(port)
        else:
            self.port, self.grpc_port = self._initial_ports()
        self._plans = {c.name: plan_resources(c) for c in revision.containers}
        self._cpus = {
            name: pick_cpus(plan.cpu_cores, offset=cpu_offset) if plan.cpu_cores else None
            for name, plan in self._plans.items()
        }
        running = adopt.processes if adopt is not None else {}
        for c in revision.containers:
            if self._plans[c.name].gpus and c.name in running:
                # Still running on the GPUs it was given: keep them from other replicas.
                seen = environ_value(running[c.name].pid, VISIBLE_DEVICES)
                if seen:
                    self._gpus.adopt(self._gpu_holder(c), tuple(seen.split(",")))
        self.runners = [
            ContainerRunner(
                c, self, memory_limit=self._plans[c.name].memory_limit, adopted=running.get(c.name)
            )
            for c in revision.containers
        ]
        self._claims: dict[str, list[int]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, owner: ProcessRecord) -> None:
        self.dirs.root.mkdir(parents=True, exist_ok=True)
        write_record(self.dirs.owner, owner)
        rev = self.revision.revision
        record = ReplicaRecord(
            revision=rev.id,
            hash=rev.hash,
            port=self.port,
            grpc_port=self.grpc_port,
            containers=tuple(c.name for c in self.revision.containers),
        )
        # Written then renamed, as pidfiles are: an adopting engine never reads half of it.
        tmp = self.dirs.record.with_suffix(".tmp")
        tmp.write_text(record.to_json())
        tmp.replace(self.dirs.record)
        self._tasks = [
            asyncio.create_task(r.run(), name=f"{self.id}/{r.container.name}") for r in self.runners
        ]

    async def stop(self) -> None:
        for runner in self.runners:
            runner.request_stop()
        if self._tasks:
            # Runners end within the stop grace; the margin covers a spawn in flight.
            _, pending = await asyncio.wait(self._tasks, timeout=self.config.stop_grace + 5.0)
            for task in pending:
                task.cancel()
        for port in {self.port, self.grpc_port} if self._dynamic else {self.grpc_port}:
            self._pool.release(port)
        for container in self.revision.containers:
            self._gpus.release(self._gpu_holder(container))
        shutil.rmtree(self.dirs.root, ignore_errors=True)

    def state(self) -> ReplicaState:
        containers = tuple(r.state() for r in self.runners)
        worst = max(containers, key=lambda c: (_SEVERITY[c.phase], not c.ready))
        server = next(c for c in containers if c.name == self._server)
        logs = {
            STORAGE_INITIALIZER: self._storage_log(),
            **{c.name: c.log_path for c in containers},
        }
        return ReplicaState(
            id=self.id,
            revision_id=self.revision.id,
            phase=worst.phase,
            ready=all(c.ready for c in containers),
            pid=server.pid,
            port=self.port,
            grpc_port=self.grpc_port,
            restarts=sum(c.restarts for c in containers),
            reason=worst.reason,
            message=worst.message,
            logs=logs,
            warnings=tuple(w for plan in self._plans.values() for w in plan.warnings),
            containers=containers,
            created=self.created,
            revision=self.revision.revision,
        )

    # -- RunnerHost --------------------------------------------------------------------

    def claim_gpus(self, container: RenderedContainer) -> str | None:
        """None once the container holds the GPUs it asks for; else why it must wait."""
        count = self._plans[container.name].gpus
        if count == 0:
            return None
        _, waiting = self._gpus.claim(self._gpu_holder(container), count)
        return waiting

    def claim_ports(self, container: RenderedContainer) -> str | None:
        taken: list[int] = []
        for port in self._fixed_ports(container):
            if not self._pool.claim(port):
                for claimed in taken:
                    self._pool.release(claimed)
                return f"port {port} of container {container.name} is in use by another process."
            taken.append(port)
        self._claims[container.name] = taken
        return None

    def release_ports(self, container: RenderedContainer) -> None:
        for port in self._claims.pop(container.name, []):
            self._pool.release(port)

    def has_fixed_port(self, container: RenderedContainer) -> bool:
        return bool(self._fixed_ports(container))

    def rotate_ports(self) -> None:
        """Move to fresh pool ports after the server found its port taken."""
        try:
            fresh = [self._pool.acquire() for _ in range(2 if self._dynamic else 1)]
        except Unavailable:
            return  # keep the old ports; the retry limit turns a persistent clash into a crash
        old = [self.port, self.grpc_port] if self._dynamic else [self.grpc_port]
        for port in old:
            self._pool.release(port)
        if self._dynamic:
            self.port = fresh.pop(0)
        self.grpc_port = fresh[0]

    def launch(self, container: RenderedContainer) -> Launch:
        ctx = ReplicaContext(self.revision, self.id, self.dirs, self.port, self.grpc_port)
        rev = self.revision.revision
        tag = process_tag(rev.namespace, rev.name, self.id, container.name)
        launch = build_launch(container, ctx, cpus=self._cpus[container.name])
        gpus = self._gpus.held(self._gpu_holder(container))
        if gpus:
            launch = replace(launch, env={**launch.env, VISIBLE_DEVICES: ",".join(gpus)})
        return replace(launch, tag=tag)

    def probe(self, container: RenderedContainer) -> ProbePlan | None:
        is_server = container.name == self._server
        return plan_probe(container, is_server=is_server, port=self.port, config=self.config)

    def changed(self) -> None:
        self._on_change(self)

    # -- internals ---------------------------------------------------------------------

    def _initial_ports(self) -> tuple[int, int]:
        if not self._dynamic:
            return container_port(self.revision.user_container), self._pool.acquire()
        port = self._pool.acquire()
        try:
            return port, self._pool.acquire()
        except Unavailable:
            self._pool.release(port)
            raise

    def _fixed_ports(self, container: RenderedContainer) -> list[int]:
        if container.name == self._server:
            return [] if self._dynamic else [self.port]
        return [p.container_port for p in container.ports]

    def _gpu_holder(self, container: RenderedContainer) -> str:
        return f"{self.id}/{container.name}"

    def _storage_log(self) -> Path:
        rev = self.revision.revision
        return storage_log(self.config.home, rev.namespace, rev.name)


def _made(adopt: Adoptable) -> float:
    """When an adopted replica was made: its record is written once, at its first start."""
    try:
        return adopt.dirs.record.stat().st_mtime
    except OSError:
        return time.time()
