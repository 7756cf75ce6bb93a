"""Properties of the KPA over random load traces: bounds, rates, panic and zero always hold."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from mlservice.autoscaler import AutoscalerSettings
from tests.autoscaler.autoscaler_sim import Sim

# (per-second concurrency, how many seconds it lasts)
bursts = st.lists(
    st.tuples(st.sampled_from([0.0, 0.3, 5.0, 60.0, 400.0, 3000.0]), st.integers(1, 40)),
    min_size=1,
    max_size=12,
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Sim, list[float]]:
    config = AutoscalerSettings(
        stable_window=draw(st.sampled_from([6.0, 10.0, 60.0])),
        scale_to_zero_grace_period=draw(st.sampled_from([0.0, 2.0, 30.0])),
        tick=draw(st.sampled_from([1.0, 2.0])),
    )
    min_replicas = draw(st.integers(0, 3))
    max_replicas = draw(st.one_of(st.none(), st.just(0), st.integers(max(1, min_replicas), 20)))
    sim = Sim(
        settings=config,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        cap=draw(st.one_of(st.none(), st.integers(1, 30))),
        container_concurrency=draw(st.one_of(st.none(), st.integers(1, 10))),
    )
    trace = [value for value, seconds in draw(bursts) for _ in range(seconds)]
    return sim, trace


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_every_decision_respects_bounds_rates_panic_and_zero(
    scenario: tuple[Sim, list[float]],
) -> None:
    sim, trace = scenario
    config = sim.settings
    upper = min(sim.max_replicas or math.inf, sim.cap or math.inf)
    lower = min(sim.min_replicas, upper)
    last_load = sim.now
    previous_mode = "none"
    for load in trace:
        if load > 0:
            if sim.desired == 0:
                sim.activate()  # as the gateway does for a request at zero
            last_load = sim.now + 1
        step = sim.second(load)
        if step is None:
            continue
        assert lower <= step.desired <= upper
        if step.desired == 0:
            assert sim.min_replicas == 0
            assert step.time - last_load >= config.stable_window + config.scale_to_zero_grace_period
        elif step.desired < step.ready:
            assert step.desired >= min(upper, step.ready // config.max_scale_down_rate)
        if previous_mode == "panic" and step.mode == "panic":
            assert step.desired >= step.ready
        previous_mode = step.mode
