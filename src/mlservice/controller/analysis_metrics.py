"""The canary analysis' input: each revision's numbers per second, from the gateway's signals.

`RevisionMetrics.observe` is a `SignalListener` (subscribed like the autoscaler's `observe`);
`window` sums a revision's seconds over a span into a `ReleaseWindow`: arrivals, `errors`
(5xx answers) and `buckets` (latency histogram counts over `gateway.revision.BUCKETS` plus
+Inf), each counted over the report's window only. A report with no histogram (empty
`buckets`) leaves the window's p99 unknown rather than zero.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from mlservice.controller.analysis import ReleaseWindow
from mlservice.engine import RevisionId
from mlservice.gateway.revision import BUCKETS
from mlservice.gateway.signals import LoadReport, Signal

KEEP_SECONDS = 3600.0  # longer than any sensible step interval


@dataclass(frozen=True)
class Second:
    """One report's numbers for one revision."""

    end: float  # unix seconds, the end of the report's window
    requests: int
    errors: int | None = None
    buckets: tuple[int, ...] | None = None


class RevisionMetrics:
    def __init__(self, *, keep: float = KEEP_SECONDS) -> None:
        self._keep = keep
        self._seconds: dict[RevisionId, deque[Second]] = {}

    def observe(self, signal: Signal) -> None:
        if not isinstance(signal, LoadReport):
            return
        for load in signal.revisions:
            seconds = self._seconds.setdefault(RevisionId(load.revision), deque())
            seconds.append(
                Second(
                    end=signal.time,
                    requests=load.requests,
                    errors=load.errors,
                    buckets=load.buckets or None,
                )
            )
        # A stopped revision's seconds age out too.
        for revision_id, seconds in list(self._seconds.items()):
            while seconds and seconds[0].end < signal.time - self._keep:
                seconds.popleft()
            if not seconds:
                del self._seconds[revision_id]

    def window(self, revision_id: RevisionId, *, since: float, until: float) -> ReleaseWindow:
        """The revision's numbers over the reports that ended in (since, until]."""
        seconds = [
            s for s in self._seconds.get(revision_id, ()) if since < s.end <= until
        ]  # fmt: skip
        requests = sum(s.requests for s in seconds)
        measured = bool(seconds)
        errors = (
            sum(s.errors or 0 for s in seconds)
            if measured and all(s.errors is not None for s in seconds)
            else None
        )
        p99 = None
        if measured and all(s.buckets is not None for s in seconds):
            merged = [sum(col) for col in zip(*(s.buckets or () for s in seconds), strict=True)]
            p99 = quantile(0.99, merged)
        return ReleaseWindow(requests=requests, errors=errors, p99=p99)


def quantile(q: float, counts: Sequence[int], bounds: Sequence[float] = BUCKETS) -> float | None:
    """The q-quantile of a histogram (`counts` per bucket, the last one +Inf), interpolated
    within its bucket as Prometheus' `histogram_quantile` does; None when empty."""
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    cumulative = 0
    for i, count in enumerate(counts):
        if cumulative + count >= rank and count > 0:
            if i >= len(bounds):  # in +Inf: the highest finite bound is all we know
                return float(bounds[-1])
            low = 0.0 if i == 0 else bounds[i - 1]
            return low + (bounds[i] - low) * (rank - cumulative) / count
        cumulative += count
    return float(bounds[-1])


def bucket_of(seconds: float, bounds: Sequence[float] = BUCKETS) -> int:
    """The histogram bucket a latency falls in (the gateway's own rule), for tests and tools."""
    return bisect.bisect_left(bounds, seconds)
