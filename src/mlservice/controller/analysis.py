"""Automatic canary analysis, the pure part: a policy, a release's metric window, a decision.

`decide` looks at the canary's and the default's numbers since the current step began and
says advance (the next step's percent), hold, promote (the last step passed) or rollback (a
threshold failed, with the numbers). It never reads a clock or a store: the controller step
(`analysis_step.py`) feeds it windows and persists `Progress` in status.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from mlservice.resources.mlservice import DEFAULT_ANALYSIS_STEPS, CanaryAnalysis

Phase = Literal["Progressing", "Promoted", "RolledBack"]
Verdict = Literal["advance", "hold", "promote", "rollback"]

ANNOTATION_PREFIX = "serving.mlservice.dev/analysis-"
"""InferenceService settings, e.g. `serving.mlservice.dev/analysis-steps: "5,25,50,100"`."""


@dataclass(frozen=True)
class Policy:
    steps: tuple[int, ...] = DEFAULT_ANALYSIS_STEPS
    interval: float = 30.0  # seconds a step lasts at least
    min_requests: int = 100  # canary requests a step needs before it is judged a pass
    max_error_rate: float | None = 0.01  # canary 5xx / requests; None: not checked
    max_p99_ratio: float | None = 1.5  # canary p99 / default p99; None: not checked
    p99_floor: float = 0.05  # seconds; a canary p99 below it is never judged slow


@dataclass(frozen=True)
class ReleaseWindow:
    """One release's numbers over a span; the gateway's signals fill it (`analysis_metrics`).
    `errors` and `p99` are None while the gateway's reports do not carry them."""

    requests: int = 0
    errors: int | None = None  # answers with a 5xx status
    p99: float | None = None  # seconds

    @property
    def error_rate(self) -> float | None:
        if self.errors is None or self.requests == 0:
            return None
        return self.errors / self.requests


@dataclass(frozen=True)
class Progress:
    """Where an analysis stands; status keeps it (`status.canaryAnalysis`)."""

    step: int  # index into the policy's steps
    phase: Phase = "Progressing"
    since: float = 0.0  # unix seconds the current step began


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    progress: Progress
    reason: str  # CamelCase, for a condition and an event
    message: str  # one sentence with the numbers


def percent(policy: Policy, progress: Progress) -> int:
    """The canary's share of traffic at `progress`, always within 0-100."""
    if progress.phase == "RolledBack":
        return 0
    if progress.phase == "Promoted":
        return 100
    step = min(max(progress.step, 0), len(policy.steps) - 1)
    return min(max(policy.steps[step], 0), 100)


def decide(
    policy: Policy,
    progress: Progress,
    *,
    canary: ReleaseWindow,
    default: ReleaseWindow,
    now: float,
) -> Decision:
    """The next move, from the windows since `progress.since` (see the module docstring)."""
    if progress.phase != "Progressing":
        return Decision("hold", progress, progress.phase, "The analysis is over.")
    at = percent(policy, progress)
    elapsed = now - progress.since
    if canary.requests < policy.min_requests:
        message = (
            f"{canary.requests} of the {policy.min_requests} canary requests a step needs, "
            f"at {at} %."
        )
        return Decision("hold", progress, "TooFewRequests", message)
    failed = _failure(policy, canary=canary, default=default)
    if failed is not None:
        done = replace(progress, phase="RolledBack", since=now)
        return Decision("rollback", done, "CanaryRolledBack", f"At {at} % {failed}")
    missing = _unmeasured(policy, canary=canary)
    if missing:
        message = f"The gateway does not report the canary's {missing}; holding at {at} %."
        return Decision("hold", progress, "MetricsUnavailable", message)
    if elapsed < policy.interval:
        # No countdown in the message: status would be rewritten at every look.
        message = f"The step at {at} % passes so far; it lasts {policy.interval:g}s."
        return Decision("hold", progress, "StepRunning", message)
    summary = _summary(canary, default)
    if progress.step >= len(policy.steps) - 1:
        done = replace(progress, phase="Promoted", since=now)
        return Decision("promote", done, "CanaryPromoted", f"Passed every step; {summary}")
    step = replace(progress, step=progress.step + 1, since=now)
    nxt = percent(policy, step)
    return Decision("advance", step, "CanaryAdvanced", f"{at} % -> {nxt} %: {summary}")


def _failure(policy: Policy, *, canary: ReleaseWindow, default: ReleaseWindow) -> str | None:
    rate = canary.error_rate
    if policy.max_error_rate is not None and rate is not None and rate > policy.max_error_rate:
        base = default.error_rate
        theirs = "" if base is None else f" (default: {default.errors} of {default.requests})"
        return (
            f"the canary answered {canary.errors} of {canary.requests} requests with a 5xx "
            f"({rate:.1%}), above the {policy.max_error_rate:.1%} allowed{theirs}."
        )
    ratio = _p99_ratio(canary, default)
    limit = policy.max_p99_ratio
    slow = canary.p99 is not None and canary.p99 >= policy.p99_floor
    if limit is not None and ratio is not None and slow and ratio > limit:
        return (
            f"the canary's p99 latency {_ms(canary.p99)} is {ratio:.2f} times the default's "
            f"{_ms(default.p99)}, above the {limit:g} allowed (p99s under "
            f"{_ms(policy.p99_floor)} pass)."
        )
    return None


def _unmeasured(policy: Policy, *, canary: ReleaseWindow) -> str:
    missing = []
    if policy.max_error_rate is not None and canary.errors is None:
        missing.append("error count")
    if policy.max_p99_ratio is not None and canary.p99 is None:
        missing.append("p99 latency")
    return " and ".join(missing)


def _p99_ratio(canary: ReleaseWindow, default: ReleaseWindow) -> float | None:
    # Without a baseline (the default got no traffic: the last step is 100 %) there is no ratio.
    if canary.p99 is None or default.p99 is None or default.p99 <= 0 or default.requests == 0:
        return None
    return canary.p99 / default.p99


def _summary(canary: ReleaseWindow, default: ReleaseWindow) -> str:
    parts = [f"{canary.requests} canary requests"]
    if canary.errors is not None:
        parts.append(f"{canary.errors} 5xx")
    if canary.p99 is not None:
        parts.append(f"p99 {_ms(canary.p99)}")
    if default.p99 is not None and default.requests:
        parts.append(f"default p99 {_ms(default.p99)}")
    return ", ".join(parts) + "."


def _ms(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds * 1000:.0f}ms"


# -- settings: MLService's spec.analysis, or an InferenceService's annotations ------------------


def seconds_of(duration: str) -> float:
    """`30s`, `2m`, `500ms` -> seconds (the resource's pattern already checked the form)."""
    for suffix, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if duration.endswith(suffix):
            return float(duration[: -len(suffix)]) * scale
    raise ValueError(f"not a duration: {duration!r}")


def policy_of(spec: CanaryAnalysis) -> Policy:
    return Policy(
        steps=tuple(spec.steps),
        interval=seconds_of(spec.interval),
        min_requests=spec.min_requests,
        max_error_rate=spec.max_error_rate if spec.max_error_rate < 1 else None,
        max_p99_ratio=spec.max_p99_ratio or None,
        p99_floor=seconds_of(spec.p99_floor),
    )


def policy_from_annotations(annotations: Mapping[str, str] | None) -> Policy | None:
    """An InferenceService's analysis: `serving.mlservice.dev/analysis-steps`, `-interval`,
    `-min-requests`, `-max-error-rate`, `-max-p99-ratio`, `-p99-floor` (`off` turns a check
    off); None
    without any of them. Invalid values raise ValueError naming the annotation."""
    found = {
        k.removeprefix(ANNOTATION_PREFIX): v
        for k, v in (annotations or {}).items()
        if k.startswith(ANNOTATION_PREFIX)
    }
    if not found:
        return None
    wire = {
        "steps": "steps",
        "interval": "interval",
        "min-requests": "minRequests",
        "max-error-rate": "maxErrorRate",
        "max-p99-ratio": "maxP99Ratio",
        "p99-floor": "p99Floor",
    }
    unknown = sorted(set(found) - set(wire))
    if unknown:
        raise ValueError(f"unknown annotation {ANNOTATION_PREFIX}{unknown[0]}")
    body: dict[str, object] = {}
    for key, value in found.items():
        try:
            body[wire[key]] = _annotation_value(key, value.strip())
        except ValueError as err:
            raise ValueError(f"annotation {ANNOTATION_PREFIX}{key}: {err}") from None
    try:
        spec = CanaryAnalysis.model_validate(body)
    except Exception as err:  # pydantic's message names the field
        raise ValueError(f"{ANNOTATION_PREFIX}*: {err}") from None
    if 0 < spec.max_p99_ratio < 1:
        raise ValueError(f"{ANNOTATION_PREFIX}max-p99-ratio: must be off or at least 1")
    return policy_of(spec)


def _annotation_value(key: str, value: str) -> object:
    if key == "steps":
        return [int(p) for p in value.split(",")]
    if key in ("interval", "p99-floor"):
        return value
    if key == "min-requests":
        return int(value)
    if value.lower() == "off":
        return 1.0 if key == "max-error-rate" else 0.0
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number
