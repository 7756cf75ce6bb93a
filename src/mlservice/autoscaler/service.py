"""The autoscaler as it runs inside `mls up`: load in from the gateway, a scale out per revision.

`Autoscaler` is the `ScaleSource` the controller reads (`desired`, `subscribe`); the
controller alone tells the engine what to run. The controller declares each revision it runs
with `configure` (annotations, bounds, containerConcurrency) on every pass; one it no longer
runs (`alive` says so) is dropped at the next tick. The engine's replica events keep the
ready counts; `observe` takes the gateway's signals. Every
`tick` seconds each revision gets a KPA decision; an `Activation` (a request waiting at zero)
gets one at once. Decisions hold while the gateway is silent, so a dead gateway never scales
anything to zero. A change of scale is reported to `on_decision` with its inputs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

from mlservice.autoscaler.kpa import Decision, KpaState, Observation, activate, decide
from mlservice.autoscaler.policy import Policy, panic_buckets, policy_for
from mlservice.autoscaler.settings import AutoscalerSettings
from mlservice.autoscaler.window import LoadWindow
from mlservice.engine import ReplicaEvent, RevisionId
from mlservice.gateway.signals import Activation, LoadReport, Signal

log = logging.getLogger(__name__)
ScaleListener = Callable[[RevisionId], None]


@dataclass(frozen=True)
class ScaleChange:
    """A decision that moved a revision's scale, as events record it."""

    revision_id: RevisionId
    previous: int
    decision: Decision
    message: str  # one sentence with the decision's inputs

    @property
    def reason(self) -> str:
        return "ScaledUp" if self.decision.desired > self.previous else "ScaledDown"


DecisionListener = Callable[[ScaleChange], None]


@dataclass
class _Revision:
    policy: Policy
    window: LoadWindow
    desired: int
    state: KpaState = field(default_factory=KpaState)
    ready: dict[str, bool] = field(default_factory=dict)  # replica id -> ready
    last: Decision | None = None

    @property
    def ready_count(self) -> int:
        return sum(self.ready.values())


class Autoscaler:
    def __init__(
        self,
        *,
        settings: AutoscalerSettings | None = None,
        cap: int | None = None,
        clock: Callable[[], float] = time.time,
        on_decision: DecisionListener | None = None,
        alive: Callable[[RevisionId], bool] | None = None,
    ) -> None:
        self.settings = settings or AutoscalerSettings()
        self._alive = alive  # False once the controller stopped a revision: forget it
        self.cap = cap  # `mls up --max-replicas`
        self._clock = clock
        self._on_decision = on_decision
        self._revisions: dict[RevisionId, _Revision] = {}
        self._listeners: list[ScaleListener] = []
        self._report_end: float | None = None  # midpoint of the newest second reported
        self._report_seen: float | None = None  # when it arrived, by our clock
        self._ticker: asyncio.Task[None] | None = None

    # -- the controller's side (ScaleSource) ----------------------------------------------

    def desired(self, revision_id: RevisionId) -> int | None:
        entry = self._revisions.get(revision_id)
        return None if entry is None else entry.desired

    def last_decision(self, revision_id: RevisionId) -> Decision | None:
        """The latest decision taken for a revision, changed or not (for status and tests)."""
        entry = self._revisions.get(revision_id)
        return None if entry is None else entry.last

    def subscribe(self, listener: ScaleListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def configure(
        self,
        revision_id: RevisionId,
        *,
        annotations: Mapping[str, str] | None = None,
        min_replicas: int = 1,
        max_replicas: int | None = None,
        container_concurrency: int | None = None,
    ) -> None:
        """Declare (or update) a revision the controller runs; cheap, call it every pass."""
        policy = policy_for(
            annotations,
            settings=self.settings,
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            container_concurrency=container_concurrency,
            cap=self.cap,
        )
        entry = self._revisions.get(revision_id)
        if entry is None:
            now = self._clock()
            keep = policy.stable_window + panic_buckets(policy)
            window = LoadWindow(start=now, keep=keep)
            initial = policy.bounds.clamp(policy.initial_scale)
            self._revisions[revision_id] = _Revision(policy, window, desired=initial)
            return
        if entry.policy != policy:
            entry.policy = policy
            self._set(revision_id, entry, policy.bounds.clamp(entry.desired))

    def forget(self, revision_id: RevisionId) -> None:
        self._revisions.pop(revision_id, None)

    def revisions(self) -> list[RevisionId]:
        return list(self._revisions)

    # -- inputs -----------------------------------------------------------------------------

    def replica_changed(self, event: ReplicaEvent) -> None:
        """An engine listener: keeps each revision's ready replica count."""
        replica = event.replica
        entry = self._revisions.get(replica.revision_id)
        if entry is None:
            return
        if event.type == "DELETED":
            entry.ready.pop(replica.id, None)
        else:
            entry.ready[replica.id] = replica.ready

    def observe(self, signal: Signal) -> None:
        if isinstance(signal, Activation):
            self._activate(RevisionId(signal.revision))
            return
        self._record(signal)

    def tick(self) -> None:
        """One decision for every revision (what the timer calls each `settings.tick`)."""
        now = self._clock()
        if self._report_seen is None or now - self._report_seen > self.settings.stale_after:
            return  # no word from the gateway: no basis for a decision
        assert self._report_end is not None
        for revision_id, entry in list(self._revisions.items()):
            if self._alive is not None and not self._alive(revision_id):
                self.forget(revision_id)
                continue
            seen = self._observation(entry, end=self._report_end, now=now)
            decision = decide(entry.policy, entry.state, seen, ready=entry.ready_count, now=now)
            entry.state = decision.state
            self._decided(revision_id, entry, decision)

    async def run(self, signals: AsyncIterator[Signal]) -> None:
        """Consume `signals` and tick until cancelled (or until `signals` ends)."""
        ticker = asyncio.create_task(self.ticking())
        try:
            async for signal in signals:
                self.observe(signal)
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker

    def start(self) -> None:
        """Tick in the background (signals come in through `observe`, a listener)."""
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self.ticking(), name="kpa")

    async def close(self) -> None:
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker

    async def ticking(self) -> None:
        """Tick every `settings.tick` seconds until cancelled (when signals arrive by callback:
        `observe` is a listener)."""
        while True:
            await asyncio.sleep(self.settings.tick)
            try:
                self.tick()
            except Exception:  # a bug in one decision must not stop scaling for good
                log.exception("autoscaler tick failed")

    # -- internals ------------------------------------------------------------------------

    def _record(self, report: LoadReport) -> None:
        middle = report.time - report.window / 2
        for load in report.revisions:
            entry = self._revisions.get(RevisionId(load.revision))
            if entry is not None:
                entry.window.record(
                    middle,
                    concurrency=load.concurrency,
                    requests=load.requests,
                    seconds=report.window,
                )
        if self._report_end is None or middle > self._report_end:
            self._report_end = middle
        self._report_seen = self._clock()

    def _observation(self, entry: _Revision, *, end: float, now: float) -> Observation:
        policy, window = entry.policy, entry.window
        return Observation(
            stable=window.average(policy.metric, end=end, span=policy.stable_window),
            panic=window.average(policy.metric, end=end, span=panic_buckets(policy)),
            quiet_for=window.quiet_for(now),
        )

    def _activate(self, revision_id: RevisionId) -> None:
        entry = self._revisions.get(revision_id)
        if entry is None:
            return
        now = self._clock()
        entry.window.mark_busy(now)
        decision = activate(entry.policy, entry.state, ready=entry.ready_count, now=now)
        entry.state = decision.state
        if decision.desired > entry.desired:
            self._decided(revision_id, entry, decision)

    def _decided(self, revision_id: RevisionId, entry: _Revision, decision: Decision) -> None:
        previous = entry.desired
        entry.last = decision
        if self._set(revision_id, entry, decision.desired) and self._on_decision:
            message = describe(revision_id, decision, previous, entry.policy)
            self._on_decision(ScaleChange(revision_id, previous, decision, message))

    def _set(self, revision_id: RevisionId, entry: _Revision, desired: int) -> bool:
        if desired == entry.desired:
            return False
        entry.desired = desired
        for listener in list(self._listeners):
            listener(revision_id)
        return True


def describe(revision_id: RevisionId, decision: Decision, previous: int, policy: Policy) -> str:
    """The event message for a change of scale: one sentence with the decision's inputs."""
    name = revision_id.split("/", 1)[-1]
    head = f"Scaled revision {name} from {previous} to {decision.desired} replicas"
    if decision.mode == "activation":
        return f"{head}: a request is waiting ({decision.ready} ready)."
    unit = "concurrency" if policy.metric == "concurrency" else "requests per second"
    why = f"; {decision.note}" if decision.note else ""
    return (
        f"{head}: {decision.mode} mode, observed {unit} {decision.observed_stable:.2f} over "
        f"{policy.stable_window:g}s and {decision.observed_panic:.2f} over "
        f"{panic_buckets(policy):g}s, target {policy.target:g} per replica, "
        f"{decision.ready} ready{why}."
    )
