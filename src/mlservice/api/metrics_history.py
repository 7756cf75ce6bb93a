"""The last 15 minutes of the gateway's metrics per release, kept in memory for the console.

`mls up`'s control plane scrapes the gateway's `/metrics` (admin channel, open like
`/healthz`) every `INTERVAL` seconds and keeps, per release, one point per scrape: requests/s,
p50 and p99 latency (interpolated in the histogram's buckets, as Prometheus'
`histogram_quantile` does) and 4xx/5xx counts. The gateway's request path pays nothing for it:
its counters are plain integers turned into text only when scraped. Nothing is stored: a
restarted control plane starts an empty history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

log = logging.getLogger("mlservice.console")
INTERVAL = 2.0
SPAN = 15 * 60.0
POINTS = int(SPAN / INTERVAL)
REQUESTS = "mls_gateway_requests"
DURATION = "mls_gateway_request_duration_seconds"


@dataclass(frozen=True)
class ReleaseKey:
    namespace: str
    service: str
    component: str
    release: str


@dataclass(frozen=True)
class Point:
    time: float
    requests: int  # answered in the interval
    rps: float
    p50: float | None  # seconds; None without requests
    p99: float | None
    errors_4xx: int
    errors_5xx: int


@dataclass
class Totals:
    """Cumulative counters of one revision as the last scrape saw them."""

    codes: dict[str, float] = field(default_factory=dict)
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound -> cumulative


Sample = tuple[ReleaseKey, str, Totals]  # release, revision, its counters


def parse_scrape(text: str) -> list[Sample]:
    """Per revision, its counters from one `/metrics` page."""
    found: dict[tuple[ReleaseKey, str], Totals] = {}

    def totals(labels: Mapping[str, str]) -> Totals:
        key = ReleaseKey(
            labels.get("namespace", ""),
            labels.get("service", ""),
            labels.get("component", ""),
            labels.get("release", ""),
        )
        return found.setdefault((key, labels.get("revision", "")), Totals())

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{REQUESTS}_total":
                totals(sample.labels).codes[sample.labels["code"]] = sample.value
            elif sample.name == f"{DURATION}_bucket":
                bound = float(sample.labels["le"])
                totals(sample.labels).buckets[bound] = sample.value
    return [(key, revision, t) for (key, revision), t in found.items()]


def quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The `q` quantile of a cumulative histogram, linear within the bucket it falls in."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower  # beyond the last finite bound: that bound is all we know
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, count
    return lower


def _delta(now: Totals, before: Totals | None) -> Totals:
    """What happened between two scrapes; a counter that went down restarted (new gateway)."""
    if before is None:
        return Totals()  # the first sight of a revision: its past is not this interval's

    def minus(a: Mapping[Any, float], b: Mapping[Any, float]) -> dict[Any, float]:
        if any(a.get(k, 0.0) < v for k, v in b.items()):
            return dict(a)
        return {k: v - b.get(k, 0.0) for k, v in a.items()}

    return Totals(codes=minus(now.codes, before.codes), buckets=minus(now.buckets, before.buckets))


class MetricsHistory:
    """Points per release, newest last, at most `POINTS` each (a ring buffer)."""

    def __init__(self, *, points: int = POINTS, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._points = points
        self._series: dict[ReleaseKey, deque[Point]] = {}
        self._last: dict[tuple[ReleaseKey, str], Totals] = {}
        self._last_time: float | None = None

    def record(self, samples: Iterable[Sample], *, now: float) -> None:
        """Add one point per release from a scrape's per-revision counters."""
        span = now - self._last_time if self._last_time is not None else self.interval
        self._last_time = now
        merged: dict[ReleaseKey, Totals] = {}
        seen: dict[tuple[ReleaseKey, str], Totals] = {}
        for key, revision, totals in samples:
            seen[(key, revision)] = totals
            change = _delta(totals, self._last.get((key, revision)))
            into = merged.setdefault(key, Totals())
            for code, count in change.codes.items():
                into.codes[code] = into.codes.get(code, 0.0) + count
            for bound, count in change.buckets.items():
                into.buckets[bound] = into.buckets.get(bound, 0.0) + count
        self._last = seen
        for key, change in merged.items():
            series = self._series.setdefault(key, deque(maxlen=self._points))
            series.append(_point(change, now=now, span=span))

    def releases(self, namespace: str, service: str) -> dict[str, list[dict[str, Any]]]:
        """`{"predict/v1": [point, ...]}` for one service, oldest point first."""
        return {
            f"{key.component}/{key.release}": [asdict(p) for p in series]
            for key, series in self._series.items()
            if key.namespace == namespace and key.service == service
        }


def _point(change: Totals, *, now: float, span: float) -> Point:
    answered = int(sum(change.codes.values()))

    def count(first: str) -> int:
        return int(sum(v for code, v in change.codes.items() if code.startswith(first)))

    return Point(
        time=now,
        requests=answered,
        rps=answered / span if span > 0 else 0.0,
        p50=quantile(0.5, change.buckets),
        p99=quantile(0.99, change.buckets),
        errors_4xx=count("4"),
        errors_5xx=count("5"),
    )


class MetricsScraper:
    """Scrapes the gateway's `/metrics` into a `MetricsHistory` every `interval` seconds."""

    def __init__(self, history: MetricsHistory, *, admin_url: str) -> None:
        self.history = history
        self._url = admin_url.rstrip("/") + "/metrics"
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="metrics scraper")

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=self.history.interval, trust_env=False) as http:
            while True:
                started = time.monotonic()
                try:
                    answer = await http.get(self._url)
                    answer.raise_for_status()
                    samples = parse_scrape(answer.text)
                except (httpx.HTTPError, ValueError) as err:
                    # A restarting gateway: a gap in the charts, not an error.
                    log.debug("metrics scrape failed: %s", err)
                else:
                    self.history.record(samples, now=time.time())
                spent = time.monotonic() - started
                await asyncio.sleep(max(0.0, self.history.interval - spent))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
