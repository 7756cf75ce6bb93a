"""The canary analysis' decisions in virtual time: windows in, advance/hold/promote/rollback out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlservice.controller.analysis import (
    Policy,
    Progress,
    ReleaseWindow,
    decide,
    percent,
    policy_from_annotations,
    policy_of,
    seconds_of,
)
from mlservice.controller.analysis_metrics import RevisionMetrics, quantile
from mlservice.engine import RevisionId
from mlservice.gateway.revision import BUCKETS
from mlservice.gateway.signals import LoadReport, RevisionLoad
from mlservice.resources import MLService, validate_object
from tests.controller.controller_helpers import mlservice

POLICY = Policy(steps=(5, 25, 50, 100), interval=30.0, min_requests=100)
HEALTHY = ReleaseWindow(requests=200, errors=0, p99=0.020)
DEFAULT = ReleaseWindow(requests=2000, errors=1, p99=0.020)


def run(policy: Policy, windows: list[tuple[float, ReleaseWindow]]) -> list[str]:
    """Feed (seconds since the step began, canary window) pairs; the verdicts in order."""
    progress = Progress(step=0, since=0.0)
    verdicts = []
    for elapsed, canary in windows:
        decision = decide(
            policy, progress, canary=canary, default=DEFAULT, now=progress.since + elapsed
        )
        verdicts.append(decision.verdict)
        progress = decision.progress
    return verdicts


def test_a_healthy_canary_walks_every_step_then_is_promoted() -> None:
    progress = Progress(step=0, since=1000.0)
    seen = []
    for _ in POLICY.steps:
        held = decide(POLICY, progress, canary=HEALTHY, default=DEFAULT, now=progress.since + 29)
        assert held.verdict == "hold"
        assert held.reason == "StepRunning"
        decision = decide(
            POLICY, progress, canary=HEALTHY, default=DEFAULT, now=progress.since + 30
        )
        seen.append((decision.verdict, percent(POLICY, decision.progress)))
        progress = decision.progress
    assert seen == [("advance", 25), ("advance", 50), ("advance", 100), ("promote", 100)]
    assert progress.phase == "Promoted"
    again = decide(POLICY, progress, canary=HEALTHY, default=DEFAULT, now=progress.since + 999)
    assert again.verdict == "hold"
    assert again.progress == progress


def test_too_few_requests_hold_however_long_the_step_lasts() -> None:
    few = ReleaseWindow(requests=99, errors=0, p99=0.01)
    decision = decide(POLICY, Progress(step=1, since=0.0), canary=few, default=DEFAULT, now=1e6)
    assert decision.verdict == "hold"
    assert decision.reason == "TooFewRequests"
    assert "99 of the 100" in decision.message
    assert "25 %" in decision.message


def test_errors_above_the_threshold_roll_back_at_once_with_the_numbers() -> None:
    bad = ReleaseWindow(requests=205, errors=41, p99=0.02)
    decision = decide(POLICY, Progress(step=1, since=0.0), canary=bad, default=DEFAULT, now=3.0)
    assert decision.verdict == "rollback"
    assert decision.reason == "CanaryRolledBack"
    assert percent(POLICY, decision.progress) == 0
    assert "41 of 205" in decision.message
    assert "20.0%" in decision.message
    assert "1.0% allowed" in decision.message
    assert "default: 1 of 2000" in decision.message
    assert decision.message.startswith("At 25 %")


def test_a_slow_canary_is_rolled_back_on_its_p99_ratio() -> None:
    slow = ReleaseWindow(requests=300, errors=0, p99=0.080)
    decision = decide(POLICY, Progress(step=2, since=0.0), canary=slow, default=DEFAULT, now=31)
    assert decision.verdict == "rollback"
    assert "80ms" in decision.message
    assert "4.00 times" in decision.message


def test_p99s_under_the_floor_are_never_slow() -> None:
    # A few milliseconds against fewer: a big ratio, and noise (histogram buckets, a busy box).
    quick = ReleaseWindow(requests=300, errors=0, p99=0.021)
    fast = ReleaseWindow(requests=900, errors=0, p99=0.009)
    decision = decide(POLICY, Progress(step=0, since=0.0), canary=quick, default=fast, now=31)
    assert decision.verdict == "advance"
    strict = Policy(p99_floor=0.0)
    decision = decide(strict, Progress(step=0, since=0.0), canary=quick, default=fast, now=31)
    assert decision.verdict == "rollback"
    assert "p99s under 0ms pass" in decision.message


def test_p99_is_not_compared_without_default_traffic() -> None:
    # At the last step (100 %) the default gets nothing: no baseline, no latency verdict.
    slow = ReleaseWindow(requests=300, errors=0, p99=0.5)
    idle = ReleaseWindow(requests=0, errors=0, p99=None)
    decision = decide(POLICY, Progress(step=3, since=0.0), canary=slow, default=idle, now=31)
    assert decision.verdict == "promote"


def test_unmeasured_metrics_hold_but_unchecked_ones_do_not() -> None:
    blind = ReleaseWindow(requests=500)  # today's gateway reports arrivals only
    held = decide(POLICY, Progress(step=0, since=0.0), canary=blind, default=DEFAULT, now=31)
    assert held.verdict == "hold"
    assert held.reason == "MetricsUnavailable"
    assert "error count and p99 latency" in held.message
    traffic_only = Policy(min_requests=100, interval=30, max_error_rate=None, max_p99_ratio=None)
    assert run(traffic_only, [(31, blind)] * 4) == ["advance", "advance", "advance", "promote"]


def test_interval_and_durations() -> None:
    assert [seconds_of(d) for d in ("30s", "2m", "500ms")] == [30.0, 120.0, 0.5]
    with pytest.raises(ValueError, match="not a duration"):
        seconds_of("3h")


def test_inference_service_annotations_give_the_same_policy() -> None:
    prefix = "serving.mlservice.dev/analysis-"
    policy = policy_from_annotations(
        {
            f"{prefix}steps": "10, 50,100",
            f"{prefix}interval": "1m",
            f"{prefix}min-requests": "20",
            f"{prefix}max-error-rate": "0.05",
            f"{prefix}max-p99-ratio": "off",
            f"{prefix}p99-floor": "20ms",
            "other": "x",
        }
    )
    assert policy == Policy(
        steps=(10, 50, 100),
        interval=60.0,
        min_requests=20,
        max_error_rate=0.05,
        max_p99_ratio=None,
        p99_floor=0.02,
    )
    assert policy_from_annotations({"other": "x"}) is None
    assert policy_from_annotations({f"{prefix}steps": "5"}) == Policy(steps=(5,))
    with pytest.raises(ValueError, match="analysis-min-requests"):
        policy_from_annotations({f"{prefix}min-requests": "many"})
    with pytest.raises(ValueError, match="analysis-steep"):
        policy_from_annotations({f"{prefix}steep": "5"})
    with pytest.raises(ValueError, match="maxErrorRate"):
        policy_from_annotations({f"{prefix}max-error-rate": "2"})


# -- the window the controller reads, from the gateway's signals ------------------------------


def report(end: float, **loads: int) -> LoadReport:
    revisions = tuple(
        RevisionLoad(revision=f"default/{name}", concurrency=0.0, requests=n, in_flight=0, queued=0)
        for name, n in loads.items()
    )
    return LoadReport(time=end, window=1.0, revisions=revisions)


def test_windows_sum_the_seconds_in_their_span_and_know_what_is_not_reported() -> None:
    metrics = RevisionMetrics(keep=60)
    for second in range(1, 11):
        metrics.observe(report(100.0 + second, v1=10, v2=second))
    window = metrics.window(RevisionId("default/v2"), since=105.0, until=110.0)
    assert window == ReleaseWindow(requests=6 + 7 + 8 + 9 + 10, errors=0, p99=None)
    assert metrics.window(RevisionId("default/v1"), since=0, until=1e9).requests == 100
    assert metrics.window(RevisionId("default/none"), since=0, until=1e9) == ReleaseWindow()
    metrics.observe(report(200.0, v1=1))  # 60s later: v2's seconds have aged out
    assert metrics.window(RevisionId("default/v2"), since=0, until=1e9) == ReleaseWindow()


def test_windows_sum_the_reports_errors_and_latency_buckets() -> None:
    def richer(end: float, errors: int, fast: int, slow: int) -> LoadReport:
        buckets = [0] * (len(BUCKETS) + 1)
        buckets[BUCKETS.index(0.01)] = fast  # (0.005, 0.01]
        buckets[BUCKETS.index(0.5)] = slow  # (0.25, 0.5]
        load = RevisionLoad(
            "default/v2", 0.0, fast + slow, 0, 0, errors=errors, buckets=tuple(buckets)
        )
        return LoadReport(time=end, window=1.0, revisions=(load,))

    metrics = RevisionMetrics()
    metrics.observe(richer(1.0, errors=2, fast=99, slow=0))
    metrics.observe(richer(2.0, errors=1, fast=99, slow=3))
    window = metrics.window(RevisionId("default/v2"), since=0.0, until=2.0)
    assert window.requests == 201
    assert window.errors == 3
    # The 99th percentile's rank, 198.99 of 201, is past the 198 fast ones: in the slow bucket.
    assert window.p99 == pytest.approx(0.25 + 0.25 * (0.99 * 201 - 198) / 3)


def test_quantile_interpolates_within_the_bucket() -> None:
    bounds = (1.0, 2.0, 4.0)
    assert quantile(0.5, [0, 10, 0, 0], bounds) == pytest.approx(1.5)
    assert quantile(0.99, [50, 50, 0, 0], bounds) == pytest.approx(1.98)
    assert quantile(0.99, [0, 0, 0, 5], bounds) == 4.0  # +Inf: the highest bound we know
    assert quantile(0.99, [0, 0, 0, 0], bounds) is None


# -- properties ----------------------------------------------------------------------------

policies = st.builds(
    Policy,
    steps=st.lists(st.integers(1, 100), min_size=1, max_size=6, unique=True).map(
        lambda s: tuple(sorted(s))
    ),
    interval=st.sampled_from([1.0, 5.0, 30.0]),
    min_requests=st.integers(1, 500),
    max_error_rate=st.one_of(st.none(), st.sampled_from([0.0, 0.01, 0.2])),
    max_p99_ratio=st.one_of(st.none(), st.sampled_from([1.0, 1.5, 3.0])),
)
windows = st.builds(
    ReleaseWindow,
    requests=st.integers(0, 2000),
    errors=st.one_of(st.none(), st.integers(0, 50)),
    p99=st.one_of(st.none(), st.floats(0.001, 2.0)),
).filter(lambda w: w.errors is None or w.errors <= w.requests)
# (seconds after the previous look, canary window, default window)
traces = st.lists(st.tuples(st.floats(0.0, 60.0), windows, windows), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(policies, traces)
def test_no_advance_on_too_few_requests_no_promotion_past_a_failure_percent_in_bounds(
    policy: Policy, trace: list[tuple[float, ReleaseWindow, ReleaseWindow]]
) -> None:
    progress, now = Progress(step=0, since=0.0), 0.0
    for wait, canary, default in trace:
        now += wait
        before = progress
        decision = decide(policy, before, canary=canary, default=default, now=now)
        progress = decision.progress
        assert 0 <= percent(policy, progress) <= 100
        if canary.requests < policy.min_requests:
            assert progress == before  # neither advances, promotes nor rolls back
        if decision.verdict in ("advance", "promote"):
            assert canary.requests >= policy.min_requests
            assert now - before.since >= policy.interval
            rate = canary.error_rate
            if policy.max_error_rate is not None:
                assert rate is not None
                assert rate <= policy.max_error_rate
            assert progress.step >= before.step
        if before.phase == "RolledBack":
            assert progress == before  # never promoted (nor advanced) past a failed step
        if decision.verdict == "rollback":
            assert percent(policy, progress) == 0
            assert before.phase == "Progressing"
        if decision.verdict == "promote":
            assert before.step == len(policy.steps) - 1


@settings(max_examples=100, deadline=None)
@given(policies, st.integers(0, 10))
def test_percent_is_the_step_s_and_stays_within_bounds(policy: Policy, step: int) -> None:
    share = percent(policy, Progress(step=step))
    assert share == policy.steps[min(step, len(policy.steps) - 1)]
    assert percent(policy, Progress(step=step, phase="RolledBack")) == 0
    assert percent(policy, Progress(step=step, phase="Promoted")) == 100


def test_the_spec_field_is_optional_and_checked() -> None:
    plain = MLService.model_validate(validate_object(mlservice()))
    assert plain.spec.analysis is None
    no_canary = mlservice(analysis={"steps": [10, 100]})
    with pytest.raises(Exception, match=r"needs spec\.canary"):
        validate_object(no_canary)
    second = {"name": "v2", "predictor": {"model": {"modelFormat": {"name": "sklearn"}}}}
    falling = mlservice(canary="v2", analysis={"steps": [50, 10]})
    falling["spec"]["releases"].append(second)
    with pytest.raises(Exception, match="must rise strictly"):
        validate_object(falling)
    fine = mlservice(canary="v2", analysis={"interval": "2s", "maxP99Ratio": 0})
    fine["spec"]["releases"].append(second)
    parsed = MLService.model_validate(validate_object(fine)).spec.analysis
    assert parsed is not None
    assert (parsed.interval, parsed.min_requests, parsed.max_p99_ratio) == ("2s", 100, 0)
    assert policy_of(parsed) == Policy(interval=2.0, max_p99_ratio=None)
    half = mlservice(canary="v2", analysis={"maxP99Ratio": 0.5})
    half["spec"]["releases"].append(second)
    with pytest.raises(Exception, match="must be 0"):
        validate_object(half)
