"""The canary analysis inside an MLService pass: read progress from status, decide, steer.

The analysis keeps its percent (and a promotion) in `status.canaryAnalysis`, never in `spec`:
a GitOps tool re-applying the user's file would otherwise undo every step (and fight the
controller forever), and the user's file stays the single source of what they asked for.
`steer` returns the service as it is in effect: the canary at the step's percent, at 0 after
a rollback, or made the default after a promotion. Progress belongs to one canary revision:
a changed canary (a new model, another release) starts over at the first step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from mlservice.controller.analysis import (
    Decision,
    Policy,
    Progress,
    ReleaseWindow,
    decide,
    percent,
    policy_of,
)
from mlservice.controller.conditions import Condition, conditions_json
from mlservice.controller.events import EventRecorder, Involved
from mlservice.engine import RevisionId
from mlservice.resources import MLService
from mlservice.store import Obj

if TYPE_CHECKING:
    from mlservice.controller.kinds import Registration

CONDITION = "CanaryAnalysis"
MIN_DELAY, MAX_DELAY = 0.5, 5.0  # how often a running analysis looks again


class MetricsSource(Protocol):
    def window(self, revision_id: RevisionId, *, since: float, until: float) -> ReleaseWindow:
        """A revision's numbers over (since, until], unix seconds."""
        ...


@dataclass(frozen=True)
class Steered:
    service: MLService
    """The service as routed and reported: the analysis' percent, or its promotion, applied."""
    record: dict[str, Any] | None = None
    """`status.canaryAnalysis`, None without an analysis."""
    condition: Condition | None = None
    delay: float | None = None
    """Seconds until the analysis wants another pass."""

    def annotate(
        self, status: dict[str, Any], *, previous: Mapping[str, Any] | None, now: str
    ) -> dict[str, Any]:
        """`status` with the record and the condition (whose transition time moves only when
        its status flips)."""
        if self.record is None or self.condition is None:
            return status
        before = (previous or {}).get("conditions")
        condition = conditions_json([self.condition], before, now=now)
        conditions = [*status.get("conditions", ()), *condition]
        return {**status, "conditions": conditions, "canaryAnalysis": self.record}


class CanaryAnalyst:
    """Runs the analyses of one reconciler's services; `metrics` None means no gateway (tests,
    `--api-only`): every window is empty and nothing advances."""

    def __init__(self, *, metrics: MetricsSource | None, events: EventRecorder) -> None:
        self.metrics = metrics
        self.events = events

    def steer(
        self,
        service: MLService,
        obj: Obj,
        *,
        serving: Mapping[str, RevisionId | None],
        now: float,
    ) -> Steered:
        """`serving`: each release's serving revision (None: not ready yet)."""
        spec = service.spec
        if spec.analysis is None or spec.canary is None:
            return Steered(service)
        policy = policy_of(spec.analysis)
        canary_rev = serving.get(spec.canary)
        if canary_rev is None:  # nothing to judge yet; the canary gets no traffic anyway
            return Steered(_at(service, percent(policy, Progress(0))), delay=MAX_DELAY)
        record = ((obj.get("status") or {}).get("canaryAnalysis")) or {}
        progress = _restore(record, release=spec.canary, revision=canary_rev, now=now)
        decision = decide(
            policy,
            progress,
            canary=self._window(canary_rev, since=progress.since, until=now),
            default=self._window(serving.get(spec.default), since=progress.since, until=now),
            now=now,
        )
        if decision.progress != progress:
            self._note(Involved.of(obj), decision)
        kept = decision.progress
        if decision.verdict == "hold" and record and kept.phase != "Progressing":
            decision = replace(
                decision, reason=record.get("reason", ""), message=record.get("message", "")
            )
        return Steered(
            service=_effective(service, policy, kept),
            record=_record(decision, release=spec.canary, revision=canary_rev, policy=policy),
            condition=Condition(
                CONDITION, kept.phase != "RolledBack", decision.reason, decision.message
            ),
            delay=_delay(policy) if kept.phase == "Progressing" else None,
        )

    def _window(self, revision: RevisionId | None, *, since: float, until: float) -> ReleaseWindow:
        if self.metrics is None or revision is None:
            return ReleaseWindow()
        return self.metrics.window(revision, since=since, until=until)

    def _note(self, involved: Involved, decision: Decision) -> None:
        if decision.verdict == "rollback":
            self.events.warning(involved, decision.reason, decision.message)
        elif decision.verdict in ("advance", "promote"):
            self.events.normal(involved, decision.reason, decision.message)


def with_analysis(
    kinds: Sequence[Registration], metrics: MetricsSource | None
) -> tuple[Registration, ...]:
    """`kinds` with the MLService reconciler reading `metrics` (what `mls up` wires)."""
    from mlservice.controller.mlservice import MLServiceReconciler  # it imports this module

    make: Callable[..., Any] = functools.partial(MLServiceReconciler, metrics=metrics)
    return tuple(replace(k, make=make) if k.kind == "MLService" else k for k in kinds)


def _restore(record: Mapping[str, Any], *, release: str, revision: str, now: float) -> Progress:
    """The recorded progress if it is this canary revision's, else the first step from now."""
    if record.get("release") != release or record.get("revision") != _name(revision):
        return Progress(step=0, since=now)
    try:
        since = datetime.fromisoformat(str(record["stepStarted"])).timestamp()
        phase = record["phase"]
        step = int(record["step"])
    except (KeyError, ValueError, TypeError):
        return Progress(step=0, since=now)
    if phase not in ("Progressing", "Promoted", "RolledBack"):
        return Progress(step=0, since=now)
    return Progress(step=max(step, 0), phase=phase, since=since)


def _record(decision: Decision, *, release: str, revision: str, policy: Policy) -> dict[str, Any]:
    progress = decision.progress
    started = datetime.fromtimestamp(progress.since, UTC).isoformat(timespec="milliseconds")
    return {
        "release": release,
        "revision": _name(revision),
        "phase": progress.phase,
        "step": progress.step,
        "steps": list(policy.steps),
        "percent": percent(policy, progress),
        "stepStarted": started.replace("+00:00", "Z"),
        "reason": decision.reason,
        "message": decision.message,
    }


def _effective(service: MLService, policy: Policy, progress: Progress) -> MLService:
    if progress.phase == "Promoted":
        assert service.spec.canary is not None
        spec = service.spec.model_copy(
            update={
                "default": service.spec.canary,
                "canary": None,
                "canary_traffic_percent": None,
            }
        )
        return service.model_copy(update={"spec": spec})
    return _at(service, percent(policy, progress))


def _at(service: MLService, share: int) -> MLService:
    spec = service.spec.model_copy(update={"canary_traffic_percent": share})
    return service.model_copy(update={"spec": spec})


def _delay(policy: Policy) -> float:
    return min(max(policy.interval / 5, MIN_DELAY), MAX_DELAY)


def _name(revision: str) -> str:
    return revision.rsplit("/", 1)[-1]
