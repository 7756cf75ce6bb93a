"""Resolving a revision's policy, the load window, and the env settings."""

from __future__ import annotations

import re

import pytest

from mlservice.autoscaler import AutoscalerSettings, Bounds, LoadWindow, policy_for
from mlservice.errors import InvalidInput

K = "autoscaling.knative.dev/"
DEFAULTS = AutoscalerSettings()


@pytest.mark.parametrize(
    ("annotations", "container_concurrency", "target", "total"),
    [
        ({}, None, 70.0, 100.0),
        ({}, 4, 2.8, 4.0),
        ({K + "target": "10"}, None, 7.0, 10.0),
        ({K + "target": "10"}, 4, 2.8, 4.0),  # never beyond containerConcurrency
        ({K + "target": "3"}, 4, 2.1, 3.0),
        ({K + "metric": "rps"}, 4, 140.0, 200.0),  # containerConcurrency is not an rps target
        ({K + "metric": "rps", K + "target": "50"}, None, 35.0, 50.0),
        ({K + "target": "10", K + "target-utilization-percentage": "50"}, None, 5.0, 10.0),
        ({K + "target": "0.01"}, None, 0.01, 0.01),  # the 0.01 floor
    ],
)
def test_targets_follow_knative(
    annotations: dict[str, str], container_concurrency: int | None, target: float, total: float
) -> None:
    policy = policy_for(annotations, settings=DEFAULTS, container_concurrency=container_concurrency)
    assert policy.target == pytest.approx(target)
    assert policy.total_target == pytest.approx(total)


def test_windows_and_delays_from_annotations_and_settings() -> None:
    settings = AutoscalerSettings(stable_window=30.0, scale_to_zero_grace_period=5.0)
    assert policy_for(None, settings=settings).stable_window == 30.0
    annotated = {
        K + "window": "20s",
        K + "panic-window-percentage": "25",
        K + "panic-threshold-percentage": "300",
        K + "scale-to-zero-pod-retention-period": "8s",
    }
    policy = policy_for(annotated, settings=settings)
    assert (policy.stable_window, policy.panic_window, policy.panic_threshold) == (20.0, 5.0, 3.0)
    assert policy.zero_delay == 8.0  # the longer of grace (5 s) and retention (8 s)


def test_bad_annotations_fall_back_to_defaults() -> None:
    policy = policy_for({K + "window": "1s", K + "target": "x"}, settings=DEFAULTS)
    assert (policy.stable_window, policy.total_target) == (60.0, 100.0)


@pytest.mark.parametrize(
    ("min_replicas", "max_replicas", "cap", "bounds"),
    [
        (1, None, None, Bounds(1, None)),
        (0, 0, None, Bounds(0, None)),  # maxReplicas 0: unbounded
        (0, 0, 4, Bounds(0, 4)),
        (2, 10, 4, Bounds(2, 4)),
        (5, None, 3, Bounds(5, 3)),
    ],
)
def test_bounds(
    min_replicas: int, max_replicas: int | None, cap: int | None, bounds: Bounds
) -> None:
    policy = policy_for(
        None, settings=DEFAULTS, min_replicas=min_replicas, max_replicas=max_replicas, cap=cap
    )
    assert policy.bounds == bounds


def test_the_machine_cap_wins_over_min_replicas() -> None:
    assert Bounds(5, 3).clamp(0) == 3
    assert Bounds(0, None).clamp(0) == 0
    assert Bounds(1, 4).clamp(9) == 4


def test_window_averages_the_covered_part_only() -> None:
    window = LoadWindow(start=100.0, keep=10.0)
    for second in range(100, 104):
        window.record(second + 0.5, concurrency=4.0, requests=8, seconds=1.0)
    assert window.average("concurrency", end=103.5, span=10.0) == pytest.approx(4.0)
    assert window.average("rps", end=103.5, span=10.0) == pytest.approx(8.0)
    # Two idle seconds later, they count as zeros.
    assert window.average("concurrency", end=105.5, span=10.0) == pytest.approx(16 / 6)
    assert window.average("concurrency", end=105.5, span=2.0) == 0.0
    assert window.quiet_for(106.0) == pytest.approx(2.5)


def test_window_weights_two_reports_in_one_second_by_time() -> None:
    window = LoadWindow(start=0.0, keep=5.0)
    window.record(10.2, concurrency=2.0, requests=1, seconds=0.5)
    window.record(10.7, concurrency=4.0, requests=3, seconds=0.5)
    assert window.average("concurrency", end=10.9, span=1.0) == pytest.approx(3.0)
    assert window.average("rps", end=10.9, span=1.0) == pytest.approx(4.0)


def test_window_forgets_old_buckets() -> None:
    window = LoadWindow(start=0.0, keep=3.0)
    window.record(0.5, concurrency=100.0, requests=0, seconds=1.0)
    for second in range(1, 10):
        window.record(second + 0.5, concurrency=0.0, requests=0, seconds=1.0)
    assert window.average("concurrency", end=9.5, span=60.0) == 0.0
    assert window.quiet_for(9.5) == pytest.approx(9.0)


def test_window_without_load_is_quiet_since_it_began() -> None:
    window = LoadWindow(start=50.0, keep=6.0)
    assert window.quiet_for(56.0) == 6.0
    window.mark_busy(55.0)
    assert window.quiet_for(56.0) == 1.0


def test_settings_from_env() -> None:
    env = {
        "MLS_AUTOSCALER_STABLE_WINDOW": "6s",
        "MLS_AUTOSCALER_TICK": "0.5",
        "MLS_AUTOSCALER_SCALE_TO_ZERO_GRACE_PERIOD": "1500ms",
        "MLS_AUTOSCALER_INITIAL_SCALE": "2",
        "MLS_AUTOSCALER_MAX_SCALE_DOWN_RATE": "4",
    }
    settings = AutoscalerSettings.from_env(env)
    assert (settings.stable_window, settings.tick) == (6.0, 0.5)
    assert settings.scale_to_zero_grace_period == 1.5
    assert (settings.initial_scale, settings.max_scale_down_rate) == (2, 4.0)
    assert AutoscalerSettings.from_env({}) == AutoscalerSettings()


@pytest.mark.parametrize(
    ("name", "value", "phrase"),
    [
        ("TICK", "soon", "MLS_AUTOSCALER_TICK='soon' is not a number or a duration"),
        ("INITIAL_SCALE", "1.5", "MLS_AUTOSCALER_INITIAL_SCALE='1.5' is not a whole number"),
        ("STABLE_WINDOW", "0s", "MLS_AUTOSCALER_STABLE_WINDOW must be positive"),
        ("MAX_SCALE_DOWN_RATE", "0.5", "at least 1"),
        ("SCALE_TO_ZERO_GRACE_PERIOD", "-1s", "must not be negative"),
    ],
)
def test_bad_env_settings_name_the_variable(name: str, value: str, phrase: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(phrase)):
        AutoscalerSettings.from_env({f"MLS_AUTOSCALER_{name}": value})


def test_window_counts_a_report_reaching_back_before_it_began() -> None:
    window = LoadWindow(start=10.2, keep=6.0)
    window.record(9.7, concurrency=3.0, requests=2, seconds=1.0)
    assert window.average("concurrency", end=9.7, span=6.0) == pytest.approx(3.0)
