"""A revision's scaling policy: the machine-wide settings, its annotations and its bounds.

Targets follow Knative's `ResolveMetricTarget`: per replica, `containerConcurrency` when set
(else 100) for concurrency or 200 for rps; the `target` annotation replaces it, but never
beyond `containerConcurrency`; then the utilization share (70%) applies, with a floor of
0.01. `maxReplicas` absent or 0 means unbounded, `mls up --max-replicas` caps everything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from mlservice.autoscaler.settings import AutoscalerSettings
from mlservice.resources.autoscaling import TARGET_MIN, Metric, parse_annotations


@dataclass(frozen=True)
class Bounds:
    min_replicas: int = 1
    max_replicas: int | None = None  # None: no upper bound

    def clamp(self, count: int) -> int:
        """`count` within the bounds; the lower bound yields to the upper one, as the controller
        applies `--max-replicas` last."""
        count = max(count, self.min_replicas)
        return count if self.max_replicas is None else min(count, self.max_replicas)


@dataclass(frozen=True)
class Policy:
    metric: Metric
    target: float
    """Metric per replica the decision aims at, utilization included (Knative's TargetValue)."""
    total_target: float
    """The same before utilization: what one replica is sized for."""
    stable_window: float
    panic_window: float
    panic_threshold: float
    """Ratio (2.0 for 200%) of wanted to ready replicas over the panic window that starts panic."""
    max_scale_up_rate: float
    max_scale_down_rate: float
    zero_delay: float
    """Seconds from "the stable window saw no traffic" to zero: max(grace, retention)."""
    initial_scale: int
    activation_scale: int
    bounds: Bounds


def policy_for(
    annotations: Mapping[str, str] | None,
    *,
    settings: AutoscalerSettings,
    min_replicas: int = 1,
    max_replicas: int | None = None,
    container_concurrency: int | None = None,
    cap: int | None = None,
) -> Policy:
    """The policy of one revision; annotations that do not parse keep the defaults (bad ones
    are refused when applied, so only a runtime's own template can still carry one)."""
    values, _ = parse_annotations(annotations)
    metric: Metric = values.metric or "concurrency"
    total = _total_target(metric, values.target, container_concurrency or 0, settings)
    utilization = values.target_utilization_percentage or settings.target_utilization_percentage
    window = values.window or settings.stable_window
    panic_share = values.panic_window_percentage or settings.panic_window_percentage
    threshold = values.panic_threshold_percentage or settings.panic_threshold_percentage
    retention = values.scale_to_zero_pod_retention_period
    if retention is None:
        retention = settings.scale_to_zero_pod_retention_period
    initial = settings.initial_scale if values.initial_scale is None else values.initial_scale
    return Policy(
        metric=metric,
        target=max(TARGET_MIN, total * utilization / 100),
        total_target=total,
        stable_window=window,
        panic_window=window * panic_share / 100,
        panic_threshold=threshold / 100,
        max_scale_up_rate=settings.max_scale_up_rate,
        max_scale_down_rate=settings.max_scale_down_rate,
        zero_delay=max(settings.scale_to_zero_grace_period, retention),
        initial_scale=initial,
        activation_scale=values.activation_scale or settings.activation_scale,
        bounds=_bounds(min_replicas, max_replicas, cap),
    )


def _total_target(
    metric: Metric,
    annotated: float | None,
    container_concurrency: int,
    settings: AutoscalerSettings,
) -> float:
    if metric == "rps":
        return annotated or settings.rps_target
    if annotated is not None:
        return min(annotated, container_concurrency) if container_concurrency else annotated
    return float(container_concurrency or settings.container_concurrency_target)


def _bounds(min_replicas: int, max_replicas: int | None, cap: int | None) -> Bounds:
    upper = max_replicas or None
    if cap is not None:
        upper = cap if upper is None else min(upper, cap)
    return Bounds(min_replicas=max(0, min_replicas), max_replicas=upper)


def panic_buckets(policy: Policy) -> float:
    """The panic window, at least one one-second bucket (6 s * 10% would be less)."""
    return max(1.0, math.ceil(policy.panic_window))
