"""A work queue with one lane per object: level-triggered, deduplicating, retrying.

`add(key)` marks the object dirty. Each key has at most one worker, so one object is
reconciled by one coroutine at a time while different objects proceed concurrently; marks
that arrive during a reconcile fold into one more pass. The handler returns the seconds after
which to look again (a download that may succeed later), or None; an exception is logged
and retried with exponential backoff, as kopf's TemporaryError is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
log = logging.getLogger(__name__)


class WorkQueue(Generic[K]):
    def __init__(
        self,
        handler: Callable[[K], Awaitable[float | None]],
        *,
        error_backoff: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self._handler = handler
        self._backoff = error_backoff
        self._dirty: set[K] = set()
        self._workers: dict[K, asyncio.Task[None]] = {}
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self._errors: dict[K, int] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self.passes = 0
        """Handler calls so far: tests wait for it to stop moving."""

    def add(self, key: K, *, after: float = 0.0) -> None:
        if self._closed:
            return
        if after > 0:
            self._later(key, after)
            return
        self._dirty.add(key)
        if key not in self._workers:
            self._idle.clear()
            self._workers[key] = asyncio.get_running_loop().create_task(
                self._work(key), name=f"reconcile {key}"
            )

    async def join(self) -> None:
        """Wait until no object is dirty or being reconciled (timers may still be pending)."""
        await self._idle.wait()

    async def close(self) -> None:
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    def _later(self, key: K, delay: float) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        current = self._timers.get(key)
        if current is not None and current.when() <= due:
            return  # an earlier look is already planned
        if current is not None:
            current.cancel()
        self._timers[key] = loop.call_at(due, self._fire, key)

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    async def _work(self, key: K) -> None:
        try:
            while key in self._dirty and not self._closed:
                self._dirty.discard(key)
                delay = await self._run(key)
                if delay is not None:
                    self._later(key, delay)
        finally:
            self._workers.pop(key, None)
            if not self._workers:
                self._idle.set()

    async def _run(self, key: K) -> float | None:
        self.passes += 1
        try:
            delay = await self._handler(key)
        except asyncio.CancelledError:
            raise
        except Exception:
            failures = self._errors[key] = self._errors.get(key, 0) + 1
            first, cap = self._backoff
            log.exception("reconciling %s failed (attempt %d); retrying", key, failures)
            return float(min(first * 2 ** (failures - 1), cap))
        self._errors.pop(key, None)
        return delay
