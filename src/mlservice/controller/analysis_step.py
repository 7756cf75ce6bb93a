"""The canary analysis inside an MLService pass: read progress from status, decide, steer.

The analysis keeps its percent (and a promotion) in `status.canaryAnalysis`, never in `spec`:
a GitOps tool re-applying the user's file would otherwise undo every step (and fight the
controller forever), and the user's file stays the single source of what they asked for.
`steer` returns the service as it is in effect: the canary at the step's percent, at 0 after
a rollback, or made the default after a promotion. Progress belongs to one canary revision:
a changed canary (a new model, another release) starts over at the first step.

An InferenceService (`share`) is steered the same way through its `canaryTrafficPercent`:
the latest revision is the canary, the rolled-out one the default, the policy comes from
annotations, and the record is `status.canaryAnalysis` too (KServe's status keeps unknown
fields; its components' entries do not).
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
    policy_from_annotations,
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
ISVC_RELEASE = "predictor"
"""`status.canaryAnalysis.release` of an InferenceService: its canary is the predictor's."""


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
        return _annotate(status, self.record, self.condition, previous=previous, now=now)


@dataclass(frozen=True)
class CanaryShare:
    """An InferenceService's predictor as the analysis steers it."""

    percent: int | None
    """`canaryTrafficPercent` in effect: None promotes the latest revision, 0 rolls it back."""
    record: dict[str, Any] | None = None
    condition: Condition | None = None
    delay: float | None = None

    @property
    def holds(self) -> bool:
        """Whether the rolled-out revision keeps serving beside a newer one."""
        return self.percent is not None and self.percent != 100

    def annotate(
        self, status: dict[str, Any], *, previous: Mapping[str, Any] | None, now: str
    ) -> dict[str, Any]:
        return _annotate(status, self.record, self.condition, previous=previous, now=now)


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
        decision, record = self._judge(
            policy,
            obj,
            release=spec.canary,
            canary=canary_rev,
            default=serving.get(spec.default),
            now=now,
        )
        kept = decision.progress
        return Steered(
            service=_effective(service, policy, kept),
            record=record,
            condition=_condition(decision),
            delay=_delay(policy) if kept.phase == "Progressing" else None,
        )

    def share(
        self,
        obj: Obj,
        *,
        latest: RevisionId | None,
        rolled_out: RevisionId | None,
        requested: int | None,
        now: float,
    ) -> CanaryShare:
        """An InferenceService's predictor: `latest` its newest revision once ready (else
        None), `rolled_out` the one serving, `requested` spec's `canaryTrafficPercent`
        (what applies without analysis annotations)."""
        annotations = (obj.get("metadata") or {}).get("annotations")
        try:
            policy = policy_from_annotations(annotations)
        except ValueError as err:
            invalid = Condition(CONDITION, False, "InvalidAnalysis", f"{err}.")
            return CanaryShare(requested, condition=invalid)
        if policy is None:
            return CanaryShare(requested)
        record = ((obj.get("status") or {}).get("canaryAnalysis")) or {}
        if latest is None or rolled_out is None or latest == rolled_out:
            # Nothing to judge: the first revision, a canary not ready yet, or a promoted one
            # (whose record stays while it serves).
            served = latest or rolled_out
            kept = record if served and record.get("revision") == _name(served) else None
            first = percent(policy, Progress(0))
            if kept is None:
                waiting = latest is None and rolled_out is not None
                return CanaryShare(first, delay=MAX_DELAY if waiting else None)
            phase = kept.get("phase")
            held = Condition(
                CONDITION,
                phase != "RolledBack",
                str(kept.get("reason", "")),
                str(kept.get("message", "")),
            )
            return CanaryShare(None if phase == "Promoted" else first, kept, held)
        decision, kept_record = self._judge(
            policy,
            obj,
            release=ISVC_RELEASE,
            canary=latest,
            default=rolled_out,
            now=now,
            full_promotes=True,
        )
        progress = decision.progress
        return CanaryShare(
            None if progress.phase == "Promoted" else percent(policy, progress),
            record=kept_record,
            condition=_condition(decision),
            delay=_delay(policy) if progress.phase == "Progressing" else None,
        )

    def _judge(
        self,
        policy: Policy,
        obj: Obj,
        *,
        release: str,
        canary: RevisionId,
        default: RevisionId | None,
        now: float,
        full_promotes: bool = False,
    ) -> tuple[Decision, dict[str, Any]]:
        """The decision on `canary` from the progress in status, and the record to keep;
        a moving decision is an event. `full_promotes`: reaching a step at 100 % promotes
        (KServe's `canaryTrafficPercent: 100` rolls the latest revision out and stops the
        previous one, so no later step could roll it back)."""
        record = ((obj.get("status") or {}).get("canaryAnalysis")) or {}
        progress = _restore(record, release=release, revision=canary, now=now)
        decision = decide(
            policy,
            progress,
            canary=self._window(canary, since=progress.since, until=now),
            default=self._window(default, since=progress.since, until=now),
            now=now,
        )
        reached = decision.progress
        if full_promotes and reached.phase == "Progressing" and percent(policy, reached) == 100:
            done = replace(reached, phase="Promoted", since=now)
            decision = Decision("promote", done, "CanaryPromoted", f"Promoted: {decision.message}")
        if decision.progress != progress:
            self._note(Involved.of(obj), decision)
        if decision.verdict == "hold" and record and decision.progress.phase != "Progressing":
            decision = replace(
                decision, reason=record.get("reason", ""), message=record.get("message", "")
            )
        return decision, _record(decision, release=release, revision=canary, policy=policy)

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
    """`kinds` with the MLService and InferenceService reconcilers reading `metrics` (what
    `mls up` wires)."""
    # Both import this module.
    from mlservice.controller.inferenceservice import InferenceServiceReconciler
    from mlservice.controller.mlservice import MLServiceReconciler

    makers: dict[str, Callable[..., Any]] = {
        "MLService": functools.partial(MLServiceReconciler, metrics=metrics),
        "InferenceService": functools.partial(InferenceServiceReconciler, metrics=metrics),
    }
    return tuple(replace(k, make=makers[k.kind]) if k.kind in makers else k for k in kinds)


def _annotate(
    status: dict[str, Any],
    record: dict[str, Any] | None,
    condition: Condition | None,
    *,
    previous: Mapping[str, Any] | None,
    now: str,
) -> dict[str, Any]:
    if condition is None:
        return status
    before = (previous or {}).get("conditions")
    conditions = [*status.get("conditions", ()), *conditions_json([condition], before, now=now)]
    out = {**status, "conditions": conditions}
    if record is not None:
        out["canaryAnalysis"] = record
    return out


def _condition(decision: Decision) -> Condition:
    rolled_back = decision.progress.phase == "RolledBack"
    return Condition(CONDITION, not rolled_back, decision.reason, decision.message)


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
