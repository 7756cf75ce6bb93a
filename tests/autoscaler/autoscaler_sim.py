"""A revision on virtual time: load reports each second, a tick every `settings.tick` seconds,
and replicas that become ready the moment they are asked for (or never, if told so)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mlservice.autoscaler import Autoscaler, AutoscalerSettings, ScaleChange
from mlservice.engine import ReplicaEvent, ReplicaId, ReplicaState, RevisionId
from mlservice.gateway.signals import Activation, LoadReport, RevisionLoad

REV = RevisionId("default/demo-predict-v1-00001")


@dataclass(frozen=True)
class Step:
    """What one tick saw and decided."""

    time: float
    desired: int
    ready: int  # before the decision
    mode: str


@dataclass
class Sim:
    settings: AutoscalerSettings = field(default_factory=AutoscalerSettings)
    annotations: Mapping[str, str] | None = None
    min_replicas: int = 1
    max_replicas: int | None = None
    container_concurrency: int | None = None
    cap: int | None = None
    instant_ready: bool = True
    now: float = 1_000_000.0
    changes: list[ScaleChange] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.scaler = Autoscaler(
            settings=self.settings,
            cap=self.cap,
            clock=lambda: self.now,
            on_decision=self.changes.append,
        )
        self.scaler.configure(
            REV,
            annotations=self.annotations,
            min_replicas=self.min_replicas,
            max_replicas=self.max_replicas,
            container_concurrency=self.container_concurrency,
        )
        self._replicas: list[ReplicaId] = []
        self._since_tick = 0.0
        self.sync()

    @property
    def desired(self) -> int:
        found = self.scaler.desired(REV)
        assert found is not None
        return found

    @property
    def ready(self) -> int:
        return len(self._replicas)

    def sync(self) -> None:
        """Replicas follow the desired scale at once (when `instant_ready`)."""
        if not self.instant_ready:
            return
        while len(self._replicas) < self.desired:
            self._replica("ADDED", ReplicaId(f"r{len(self._replicas)}"), ready=True)
        while len(self._replicas) > self.desired:
            self._replica("DELETED", self._replicas[-1], ready=False)

    def second(self, concurrency: float, requests: int = 0) -> Step | None:
        """One second passes with this load; returns the tick's outcome if one fell in it."""
        self.now += 1.0
        load = RevisionLoad(REV, concurrency, requests, in_flight=0, queued=0)
        self.scaler.observe(LoadReport(time=self.now, window=1.0, revisions=(load,)))
        self._since_tick += 1.0
        if self._since_tick + 1e-9 < self.settings.tick:
            return None
        self._since_tick = 0.0
        ready = self.ready
        self.scaler.tick()
        self.sync()
        last = self.scaler.last_decision(REV)
        return Step(self.now, self.desired, ready, last.mode if last else "none")

    def run(self, loads: Iterable[float], *, rps: bool = False) -> list[Step]:
        steps = []
        for value in loads:
            step = self.second(0.0, int(value)) if rps else self.second(value)
            if step is not None:
                steps.append(step)
        return steps

    def activate(self) -> None:
        self.scaler.observe(Activation(revision=REV, time=self.now, queued=1))
        self.sync()

    def _replica(self, kind: str, replica_id: ReplicaId, *, ready: bool) -> None:
        state = ReplicaState(
            id=replica_id,
            revision_id=REV,
            phase="Running" if ready else "Terminating",
            ready=ready,
            pid=None,
            port=None,
            grpc_port=None,
            restarts=0,
        )
        self.scaler.replica_changed(ReplicaEvent(kind, state))  # type: ignore[arg-type]
        if kind == "ADDED":
            self._replicas.append(replica_id)
        else:
            self._replicas.remove(replica_id)
