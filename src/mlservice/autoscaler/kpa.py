"""Knative's KPA decision as pure functions: observed load and ready replicas in, a scale out.

One `decide` per tick per revision (Knative's `autoscaler.Scale` plus the scale-to-zero rules
of its KPA reconciler):

- wanted = ceil(observed / target) over the stable window, and over the panic window;
  each kept within [ready / max-scale-down-rate, ready * max-scale-up-rate] (ready >= 1);
  `activation-scale` is the least non-zero answer.
- Panic starts, or is prolonged, while the panic window wants at least `panic_threshold`
  times the ready replicas; it ends once a whole stable window has passed since then.
  While panicking the scale is the largest wanted so far: it never goes down.
- Zero only when nothing arrived for a whole stable window, and then only after the grace
  period (or the retention period, if longer); until then one replica stays.
- A new revision runs at least `initial-scale` until it has had that many ready replicas once.
- `activate` answers a request waiting at zero at once, with `activation-scale` replicas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from mlservice.autoscaler.policy import Policy

Mode = Literal["stable", "panic", "activation"]


@dataclass(frozen=True)
class Observation:
    stable: float  # metric averaged over the stable window (all replicas together)
    panic: float  # the same over the panic window
    quiet_for: float  # seconds since the latest load (or since tracking began)


@dataclass(frozen=True)
class KpaState:
    """What a revision's decisions remember between ticks."""

    panic_since: float | None = None  # last tick over the panic threshold (Knative's panicTime)
    max_panic: int = 0  # the largest scale wanted during this panic
    idle_since: float | None = None  # when zero was first allowed; counts the grace period
    initialized: bool = False  # has had `initial_scale` ready replicas once


@dataclass(frozen=True)
class Decision:
    desired: int
    mode: Mode
    observed_stable: float
    observed_panic: float
    ready: int
    note: str  # why, when it is not plain load ("initial scale", "grace period", ...)
    state: KpaState


def decide(
    policy: Policy, state: KpaState, seen: Observation, *, ready: int, now: float
) -> Decision:
    ready_floor = max(1, ready)
    most = math.ceil(policy.max_scale_up_rate * ready_floor)
    least = math.floor(ready_floor / policy.max_scale_down_rate)
    want_stable = math.ceil(seen.stable / policy.target)
    want_panic = math.ceil(seen.panic / policy.target)
    stable = _at_least_activation(policy, want_stable, min(max(want_stable, least), most))
    panic = _at_least_activation(policy, want_panic, min(max(want_panic, least), most))
    over = want_panic / ready_floor >= policy.panic_threshold
    state = _panic_transition(policy, state, over=over, now=now)
    desired = stable
    if state.panic_since is not None:
        desired = max(state.max_panic, stable, panic)
        state = replace(state, max_panic=desired)
    desired, note, state = _scale_to_zero(policy, state, desired, seen=seen, now=now)
    desired, note, state = _initial_scale(policy, state, desired, note, ready=ready)
    bounded = policy.bounds.clamp(desired)
    if bounded != desired and not note:
        note = "bounds"
    return Decision(
        desired=bounded,
        mode="panic" if state.panic_since is not None else "stable",
        observed_stable=seen.stable,
        observed_panic=seen.panic,
        ready=ready,
        note=note,
        state=state,
    )


def activate(policy: Policy, state: KpaState, *, ready: int, now: float) -> Decision:
    """A request waits for a revision with no ready replica: scale it up now."""
    desired = policy.bounds.clamp(max(1, policy.activation_scale))
    return Decision(
        desired=desired,
        mode="activation",
        observed_stable=0.0,
        observed_panic=0.0,
        ready=ready,
        note="request waiting",
        state=replace(state, idle_since=None),
    )


def _at_least_activation(policy: Policy, wanted: int, count: int) -> int:
    if wanted > 0 and count < policy.activation_scale:
        return policy.activation_scale
    return count


def _panic_transition(policy: Policy, state: KpaState, *, over: bool, now: float) -> KpaState:
    if over:
        return replace(state, panic_since=now)
    if state.panic_since is not None and now > state.panic_since + policy.stable_window:
        return replace(state, panic_since=None, max_panic=0)
    return state


def _scale_to_zero(
    policy: Policy, state: KpaState, desired: int, *, seen: Observation, now: float
) -> tuple[int, str, KpaState]:
    if desired > 0 or policy.bounds.min_replicas > 0:
        return desired, "", replace(state, idle_since=None)
    if seen.quiet_for < policy.stable_window:
        return 1, "traffic within the stable window", replace(state, idle_since=None)
    idle_since = now if state.idle_since is None else state.idle_since
    state = replace(state, idle_since=idle_since)
    if now - idle_since < policy.zero_delay:
        return 1, "scale-to-zero grace period", state
    return 0, "idle for the stable window and the grace period", state


def _initial_scale(
    policy: Policy, state: KpaState, desired: int, note: str, *, ready: int
) -> tuple[int, str, KpaState]:
    if state.initialized:
        return desired, note, state
    initial = policy.bounds.clamp(policy.initial_scale)
    if ready >= initial:
        return desired, note, replace(state, initialized=True)
    if desired < initial:
        return initial, "initial scale", state
    return desired, note, state
