"""The console's metrics history: parsing the gateway's page, deltas, quantiles, the ring."""

from __future__ import annotations

import math

import pytest

from mlservice.api.metrics_history import MetricsHistory, ReleaseKey, Totals, parse_scrape, quantile

LABELS = (
    'namespace="ns",service="iris",component="predict",release="v1",'
    'revision="iris-predict-v1-00001"'
)
PAGE = """\
# TYPE mls_gateway_requests_total counter
mls_gateway_requests_total{{labels},code="200"} 8.0
mls_gateway_requests_total{{labels},code="503"} 2.0
# TYPE mls_gateway_request_duration_seconds histogram
mls_gateway_request_duration_seconds_bucket{{labels},le="0.01"} 5.0
mls_gateway_request_duration_seconds_bucket{{labels},le="0.1"} 10.0
mls_gateway_request_duration_seconds_bucket{{labels},le="+Inf"} 10.0
mls_gateway_request_duration_seconds_count{{labels}} 10.0
mls_gateway_request_duration_seconds_sum{{labels}} 0.3
""".replace("{labels}", LABELS)
KEY = ReleaseKey("ns", "iris", "predict", "v1")


def test_a_scrape_gives_each_revisions_counters() -> None:
    [(key, revision, totals)] = parse_scrape(PAGE)
    assert (key, revision) == (KEY, "iris-predict-v1-00001")
    assert totals.codes == {"200": 8.0, "503": 2.0}
    assert totals.buckets == {0.01: 5.0, 0.1: 10.0, math.inf: 10.0}


def test_quantiles_interpolate_within_the_bucket() -> None:
    buckets = {0.01: 5.0, 0.1: 10.0, math.inf: 10.0}
    assert quantile(0.5, buckets) == pytest.approx(0.01)
    assert quantile(0.75, buckets) == pytest.approx(0.055)
    assert quantile(0.99, {0.1: 0.0, math.inf: 4.0}) == pytest.approx(0.1)
    assert quantile(0.5, {0.1: 0.0, math.inf: 0.0}) is None


def test_points_are_per_interval_and_a_restarted_counter_starts_over() -> None:
    history = MetricsHistory(points=3, interval=2.0)
    [(key, revision, first)] = parse_scrape(PAGE)
    history.record([(key, revision, first)], now=100.0)  # first sight: no past counted
    later = Totals(
        codes={"200": 18.0, "503": 2.0, "404": 1.0}, buckets={0.01: 16.0, 0.1: 21.0, math.inf: 21.0}
    )
    history.record([(key, revision, later)], now=102.0)
    restarted = Totals(codes={"200": 3.0}, buckets={0.01: 3.0, math.inf: 3.0})
    history.record([(key, revision, restarted)], now=104.0)
    points = history.releases("ns", "iris")["predict/v1"]
    assert [p["requests"] for p in points] == [0, 11, 3]
    assert points[1]["rps"] == pytest.approx(5.5)
    assert points[1]["errors_4xx"] == 1
    assert points[1]["errors_5xx"] == 0
    assert points[1]["p50"] == pytest.approx(0.01 * 5.5 / 11)
    assert points[0]["p50"] is None
    history.record([(key, revision, restarted)], now=106.0)
    assert len(history.releases("ns", "iris")["predict/v1"]) == 3  # a ring: the oldest went
    assert history.releases("ns", "other") == {}
