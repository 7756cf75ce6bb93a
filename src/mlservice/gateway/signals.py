"""What the gateway tells the autoscaler: load per revision each second, and activations.

`LoadReport` carries, per revision, the average number of requests the gateway held for it
over the window (in flight to replicas plus waiting), as Knative's queue-proxy reports
concurrency, and how many arrived. `Activation` is sent at once when a request arrives for a
revision with no ready replica. Both travel as NDJSON on the admin channel. Shadow copies
judged in the window ride along in the report (`ShadowLoad`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RevisionLoad:
    revision: str
    concurrency: float  # time-weighted average of in_flight + queued over the window
    requests: int  # arrivals in the window
    in_flight: int  # at the end of the window
    queued: int
    errors: int = 0  # answers with a 5xx status in the window
    buckets: tuple[int, ...] = ()  # latency histogram counts in the window (BUCKETS + +Inf)


@dataclass(frozen=True)
class ShadowLoad:
    """One shadow revision's copies judged in the window (docs/shadow.md)."""

    revision: str
    sent: int
    dropped: int  # queue full, body too large, no ready replica
    errors: int  # 5xx or no answer
    agree: int
    disagree: int
    incomparable: int
    seconds: float  # summed latency of the copies answered (or failed) in the window


@dataclass(frozen=True)
class LoadReport:
    time: float  # unix seconds at the end of the window
    window: float  # seconds
    revisions: tuple[RevisionLoad, ...]
    shadows: tuple[ShadowLoad, ...] = ()  # only revisions with shadow copies in the window


@dataclass(frozen=True)
class Activation:
    revision: str
    time: float
    queued: int  # requests held for it when the signal left


Signal = LoadReport | Activation


def signal_to_json(signal: Signal) -> dict[str, Any]:
    kind = "load" if isinstance(signal, LoadReport) else "activate"
    return {"type": kind, **asdict(signal)}


def signal_from_json(data: Mapping[str, Any]) -> Signal:
    fields = {k: v for k, v in data.items() if k != "type"}
    if data.get("type") == "activate":
        return Activation(**fields)
    loads = tuple(
        RevisionLoad(**{**r, "buckets": tuple(r.get("buckets", ()))})
        for r in fields.pop("revisions", ())
    )
    shadows = tuple(ShadowLoad(**r) for r in fields.pop("shadows", ()))
    return LoadReport(**fields, revisions=loads, shadows=shadows)


class Window:
    """Integrates a revision's concurrency over time; `take` closes one window, opens the next."""

    __slots__ = ("_area", "_since", "_start", "level", "requests")

    def __init__(self, now: float) -> None:
        self.level = 0  # requests held right now
        self.requests = 0
        self._area = 0.0
        self._since = now  # last level change
        self._start = now  # window start

    def change(self, delta: int, now: float) -> None:
        self._area += self.level * (now - self._since)
        self._since = now
        self.level += delta

    def take(self, now: float) -> tuple[float, int]:
        """(average concurrency, arrivals) since the last take."""
        self._area += self.level * (now - self._since)
        span = now - self._start
        average = self._area / span if span > 0 else float(self.level)
        requests = self.requests
        self._area, self._since, self._start, self.requests = 0.0, now, now, 0
        return average, requests


class SignalHub:
    """Fans signals out to subscribers; a slow subscriber loses its oldest signals, not ours."""

    def __init__(self, *, backlog: int = 256) -> None:
        self._subscribers: set[asyncio.Queue[Signal]] = set()
        self._backlog = backlog

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, signal: Signal) -> None:
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(signal)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[Signal]]:
        queue: asyncio.Queue[Signal] = asyncio.Queue(self._backlog)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
