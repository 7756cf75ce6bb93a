"""KPA decisions on virtual time, with Knative's defaults (60 s window, 70% of 100 per replica)."""

from __future__ import annotations

import math

import pytest

from mlservice.autoscaler import AutoscalerSettings, KpaState, Observation, decide, policy_for
from tests.autoscaler.autoscaler_sim import Sim

TARGET = 70.0  # 100 concurrent requests per replica at 70% utilization


def test_step_load_scales_up_in_the_first_tick_while_panicking() -> None:
    sim = Sim()
    sim.run([0.0] * 60)
    assert sim.desired == 1
    first = sim.run([10 * TARGET] * 2)
    assert len(first) == 1
    assert first[0].mode == "panic"
    # The 6 s panic window holds 2 s of 700: ceil(233 / 70) = 4 against 1 ready.
    assert first[0].desired == math.ceil(2 * 10 * TARGET / 6 / TARGET)
    steps = sim.run([10 * TARGET] * 10)
    assert steps[-1].desired == 10
    assert all(s.mode == "panic" for s in steps)


def test_no_scale_down_while_panicking_then_panic_ends_after_a_stable_window() -> None:
    sim = Sim()
    sim.run([0.0] * 60)
    load = sim.run([10 * TARGET] * 12)
    peak = sim.desired
    after = sim.run([0.0] * 80)
    panicking = [s for s in after if s.mode == "panic"]
    assert panicking, "the load's end must not end the panic at once"
    assert all(s.desired == peak for s in panicking)
    # Panic lasts a whole stable window past the last tick over the threshold.
    calm = next(s for s in after if s.mode == "stable")
    assert calm.time - load[0].time > 60
    assert sim.desired < peak


@pytest.mark.parametrize(("tick", "first_steps"), [(2.0, [11, 6, 3, 1]), (6.0, [8, 4, 2, 1])])
def test_a_drop_scales_down_at_most_by_half_per_tick(tick: float, first_steps: list[int]) -> None:
    # With a 6 s tick the whole window is idle at the first tick: only the rate limit holds.
    sim = Sim(settings=AutoscalerSettings(stable_window=6.0, tick=tick))
    sim.run([16 * TARGET] * 42)  # ends on a tick
    assert sim.desired == 16
    steps = sim.run([0.0] * 30)
    previous = 16
    shrinking = []
    for step in steps:
        assert step.desired >= previous // 2
        if step.desired < previous:
            shrinking.append(step.desired)
        previous = step.desired
    assert shrinking[:4] == first_steps


def test_scale_down_rate_limit_in_one_decision() -> None:
    policy = policy_for(None, settings=AutoscalerSettings())
    seen = Observation(stable=0.5, panic=0.0, quiet_for=0.0)
    decision = decide(policy, KpaState(initialized=True), seen, ready=16, now=0.0)
    assert decision.desired == 8
    assert decide(policy, KpaState(initialized=True), seen, ready=3, now=0.0).desired == 1


def test_scale_up_rate_limit_in_one_decision() -> None:
    settings = AutoscalerSettings(max_scale_up_rate=2.0)
    policy = policy_for(None, settings=settings)
    seen = Observation(stable=100 * TARGET, panic=100 * TARGET, quiet_for=0.0)
    decision = decide(policy, KpaState(initialized=True), seen, ready=3, now=0.0)
    assert decision.desired == 6


@pytest.mark.parametrize(("window", "grace"), [(60.0, 30.0), (6.0, 2.0)])
def test_idle_reaches_zero_only_after_window_plus_grace(window: float, grace: float) -> None:
    settings = AutoscalerSettings(stable_window=window, scale_to_zero_grace_period=grace)
    sim = Sim(settings=settings, min_replicas=0)
    sim.run([5.0] * 20)
    assert sim.desired == 1
    stopped = sim.now
    steps = sim.run([0.0] * int(window + grace + 20))
    zero = next(s for s in steps if s.desired == 0)
    assert all(s.desired >= 1 for s in steps if s.time < zero.time)
    assert zero.time - stopped >= window + grace
    assert zero.time - stopped <= window + grace + 2 * settings.tick + 1
    assert all(s.desired == 0 for s in steps if s.time >= zero.time)


def test_retention_longer_than_grace_delays_zero() -> None:
    settings = AutoscalerSettings(stable_window=6.0, scale_to_zero_grace_period=2.0)
    retention = {"autoscaling.knative.dev/scale-to-zero-pod-retention-period": "20s"}
    sim = Sim(settings=settings, min_replicas=0, annotations=retention)
    sim.run([5.0] * 10)
    stopped = sim.now
    steps = sim.run([0.0] * 40)
    zero = next(s for s in steps if s.desired == 0)
    assert zero.time - stopped >= 6 + 20


def test_min_replicas_keeps_the_floor_when_idle() -> None:
    sim = Sim(settings=AutoscalerSettings(stable_window=6.0), min_replicas=2)
    steps = sim.run([0.0] * 60)
    assert {s.desired for s in steps} == {2}


def test_traffic_during_grace_keeps_the_replica() -> None:
    settings = AutoscalerSettings(stable_window=6.0, scale_to_zero_grace_period=10.0)
    sim = Sim(settings=settings, min_replicas=0)
    sim.run([0.0] * 12)  # past the window: the grace period is counting
    sim.run([0.2])
    steps = sim.run([0.0] * 12)
    assert all(s.desired == 1 for s in steps)


def test_activation_brings_a_revision_at_zero_up_at_once() -> None:
    settings = AutoscalerSettings(stable_window=6.0, scale_to_zero_grace_period=1.0)
    scale = {"autoscaling.knative.dev/activation-scale": "3"}
    sim = Sim(settings=settings, min_replicas=0, annotations=scale)
    sim.run([0.0] * 20)
    assert sim.desired == 0
    sim.activate()  # no tick in between
    assert sim.desired == 3
    change = sim.changes[-1]
    assert (change.decision.mode, change.previous, change.reason) == ("activation", 0, "ScaledUp")
    assert "from 0 to 3 replicas" in change.message
    # Load that wants one replica still gets activation-scale, and no zero inside the window.
    steps = sim.run([1.0] * 4 + [0.0] * 4)
    assert all(s.desired == 3 for s in steps)


def test_activation_is_bounded_by_max_replicas() -> None:
    scale = {"autoscaling.knative.dev/activation-scale": "5"}
    sim = Sim(min_replicas=0, max_replicas=2, annotations=scale, instant_ready=False)
    sim.activate()
    assert sim.desired == 2


def test_initial_scale_holds_until_reached_once() -> None:
    settings = AutoscalerSettings(stable_window=6.0)
    initial = {"autoscaling.knative.dev/initial-scale": "3"}
    sim = Sim(settings=settings, annotations=initial, instant_ready=False)
    assert sim.desired == 3
    steps = sim.run([0.0] * 10)
    assert all(s.desired == 3 for s in steps)  # never ready: stays at initial scale
    sim.instant_ready = True
    sim.sync()
    steps = sim.run([0.0] * 10)
    assert steps[-1].desired == 1


def test_initial_scale_zero_starts_at_zero() -> None:
    sim = Sim(min_replicas=0, annotations={"autoscaling.knative.dev/initial-scale": "0"})
    assert sim.desired == 0


def test_rps_metric_uses_requests_per_second() -> None:
    annotations = {"autoscaling.knative.dev/metric": "rps", "autoscaling.knative.dev/target": "10"}
    sim = Sim(settings=AutoscalerSettings(stable_window=6.0), annotations=annotations)
    steps = sim.run([70.0] * 20, rps=True)
    assert steps[-1].desired == 10  # 70 rps / (10 * 70%)


def test_container_concurrency_sets_the_target() -> None:
    sim = Sim(settings=AutoscalerSettings(stable_window=6.0), container_concurrency=2)
    steps = sim.run([14.0] * 20)
    assert steps[-1].desired == 10  # 14 / (2 * 70%)


def test_machine_cap_bounds_an_unbounded_release() -> None:
    sim = Sim(settings=AutoscalerSettings(stable_window=6.0), max_replicas=0, cap=3)
    steps = sim.run([50 * TARGET] * 20)
    assert max(s.desired for s in steps) == 3


def test_silent_gateway_holds_the_scale() -> None:
    settings = AutoscalerSettings(stable_window=6.0, scale_to_zero_grace_period=1.0)
    sim = Sim(settings=settings, min_replicas=0)
    sim.run([3.0] * 10)
    before = sim.desired
    sim.now += 120.0  # no report for two minutes
    sim.scaler.tick()
    assert sim.desired == before


def test_decision_events_carry_their_inputs() -> None:
    sim = Sim()
    sim.run([0.0] * 10)
    sim.run([10 * TARGET] * 2)
    change = sim.changes[-1]
    assert (change.decision.mode, change.reason) == ("panic", "ScaledUp")
    message = change.message
    assert message.startswith("Scaled revision demo-predict-v1-00001 from 1 to ")
    assert "panic mode, observed concurrency" in message
    assert "target 70 per replica" in message
