"""Per-second buckets of one revision's load, read back as averages over trailing windows.

Pure and clock-free: every call says what time it is about. The gateway reports each second
the time-weighted average concurrency and the arrivals of the second that just ended; a
report lands in the bucket of its midpoint. A second with no report counts as idle (the
gateway reports every revision it routes, so silence is no load). Averages cover the
trailing window, or only the time since tracking began when that is shorter (as Knative
averages a partial window rather than diluting it with seconds nobody watched).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlservice.resources.autoscaling import Metric


@dataclass
class _Bucket:
    concurrency: float = 0.0  # integral of concurrency over the reported time
    requests: int = 0
    seconds: float = 0.0  # reported time that fell in this bucket

    def rate(self, metric: Metric) -> float:
        if self.seconds <= 0:
            return 0.0
        total = self.concurrency if metric == "concurrency" else float(self.requests)
        return total / self.seconds

    @property
    def busy(self) -> bool:
        return self.concurrency > 0 or self.requests > 0


class LoadWindow:
    """One revision's recent load; keeps `keep` seconds of buckets of `granularity` seconds."""

    def __init__(self, *, start: float, keep: float, granularity: float = 1.0) -> None:
        self.start = start
        self.granularity = granularity
        self._keep = max(1, math.ceil(keep / granularity)) + 1
        self._buckets: dict[int, _Bucket] = {}
        self._last_busy: float | None = None  # time of the latest load seen

    def record(self, at: float, *, concurrency: float, requests: int, seconds: float) -> None:
        """A report covering `seconds` of time centred on `at`."""
        index = self._index(at)
        self.start = min(self.start, at)  # a report may reach back before tracking began
        bucket = self._buckets.setdefault(index, _Bucket())
        bucket.concurrency += concurrency * seconds
        bucket.requests += requests
        bucket.seconds += seconds
        if concurrency > 0 or requests > 0:
            self.mark_busy(at)
        self._prune(index)

    def mark_busy(self, at: float) -> None:
        """Load seen at `at` outside the reports (an activation: a request is waiting)."""
        if self._last_busy is None or at > self._last_busy:
            self._last_busy = at

    def average(self, metric: Metric, *, end: float, span: float) -> float:
        """Mean per-second `metric` over the `span` seconds ending at `end`."""
        last = self._index(end)
        count = max(1, round(span / self.granularity))
        first = max(last - count + 1, self._index(self.start))
        covered = max(1, last - first + 1)
        total = sum(
            self._buckets[i].rate(metric) for i in range(first, last + 1) if i in self._buckets
        )
        return total / covered

    def quiet_for(self, now: float) -> float:
        """Seconds since the latest load, or since tracking began when there was none."""
        since = self.start if self._last_busy is None else self._last_busy
        return max(0.0, now - since)

    def _index(self, at: float) -> int:
        return math.floor(at / self.granularity)

    def _prune(self, newest: int) -> None:
        if len(self._buckets) > self._keep:
            for index in [i for i in self._buckets if i <= newest - self._keep]:
                del self._buckets[index]
