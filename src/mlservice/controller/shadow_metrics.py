"""A shadow release's numbers in the MLService's status, from the gateway's load reports.

`ShadowMetrics.observe` is a `SignalListener` (subscribed like `RevisionMetrics.observe`): it
keeps each shadow revision's `ShadowLoad` seconds for `WINDOW`. The reconciler writes
`status.shadow` (`shadow_status`) over the last `WINDOW` seconds, the window's end rounded
down to `TICK`: two passes in the same tick compute the same numbers, so the store is written
at most once per tick however often the service is reconciled (docs/shadow.md).
"""

from __future__ import annotations

import functools
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from mlservice.engine import RevisionId
from mlservice.gateway.signals import LoadReport, ShadowLoad, Signal

if TYPE_CHECKING:  # kinds imports the reconciler, which imports this module
    from mlservice.controller.kinds import Registration

WINDOW = 300.0  # seconds of shadow copies status.shadow sums: recent, not since ever
TICK = 10.0  # seconds: status.shadow changes at most this often


@dataclass(frozen=True)
class ShadowWindow:
    """A shadow revision's copies over a span."""

    sent: int = 0
    dropped: int = 0
    errors: int = 0
    agree: int = 0
    disagree: int = 0
    incomparable: int = 0
    seconds: float = 0.0  # summed latency of the copies judged

    @property
    def agreement(self) -> float | None:
        """agree / (agree + disagree); None before anything was compared."""
        compared = self.agree + self.disagree
        return self.agree / compared if compared else None

    @property
    def mean_seconds(self) -> float | None:
        judged = self.agree + self.disagree + self.incomparable
        return self.seconds / judged if judged else None


class ShadowSource(Protocol):
    def shadow_window(self, revision_id: RevisionId, *, since: float, until: float) -> ShadowWindow:
        """A shadow revision's copies over (since, until], unix seconds."""
        ...


class ShadowMetrics:
    def __init__(self, *, keep: float = WINDOW + TICK) -> None:
        self._keep = keep
        self._seconds: dict[RevisionId, deque[tuple[float, ShadowLoad]]] = {}

    def observe(self, signal: Signal) -> None:
        if not isinstance(signal, LoadReport):
            return
        for load in signal.shadows:
            self._seconds.setdefault(RevisionId(load.revision), deque()).append((signal.time, load))
        for revision_id, seconds in list(self._seconds.items()):
            while seconds and seconds[0][0] < signal.time - self._keep:
                seconds.popleft()
            if not seconds:
                del self._seconds[revision_id]

    def shadow_window(self, revision_id: RevisionId, *, since: float, until: float) -> ShadowWindow:
        loads = [load for end, load in self._seconds.get(revision_id, ()) if since < end <= until]
        return _summed(loads)


def _summed(loads: Sequence[ShadowLoad]) -> ShadowWindow:
    return ShadowWindow(
        sent=sum(x.sent for x in loads),
        dropped=sum(x.dropped for x in loads),
        errors=sum(x.errors for x in loads),
        agree=sum(x.agree for x in loads),
        disagree=sum(x.disagree for x in loads),
        incomparable=sum(x.incomparable for x in loads),
        seconds=sum(x.seconds for x in loads),
    )


def shadow_status(
    source: ShadowSource | None,
    *,
    release: str,
    revision_id: RevisionId | None,
    now: float,
) -> dict[str, Any]:
    """`status.shadow`: the shadow release's copies over the last `WINDOW` seconds up to the
    last whole `TICK`; zeros while it has no serving revision or no gateway reports."""
    until = math.floor(now / TICK) * TICK
    found = (
        source.shadow_window(revision_id, since=until - WINDOW, until=until)
        if source is not None and revision_id is not None
        else ShadowWindow()
    )
    status: dict[str, Any] = {
        "release": release,
        "window": f"{int(WINDOW)}s",
        "sent": found.sent,
        "dropped": found.dropped,
        "errors": found.errors,
        "agree": found.agree,
        "disagree": found.disagree,
        "incomparable": found.incomparable,
    }
    if revision_id is not None:
        status["revision"] = str(revision_id).split("/")[-1]
    if (agreement := found.agreement) is not None:
        status["agreement"] = round(agreement, 4)
    if (mean := found.mean_seconds) is not None:
        status["meanLatencyMs"] = round(mean * 1000, 1)
    return status


def with_shadows(
    kinds: Sequence[Registration], shadows: ShadowSource | None
) -> tuple[Registration, ...]:
    """`kinds` with the MLService reconciler reading `shadows` (what `mls up` wires)."""
    return tuple(
        replace(k, make=_reading(k.make, shadows)) if k.kind == "MLService" else k for k in kinds
    )


def _reading(make: Callable[..., Any], shadows: ShadowSource | None) -> Callable[..., Any]:
    return functools.partial(make, shadows=shadows)
