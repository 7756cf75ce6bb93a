"""A subscriber's event queue, fed from any thread and read from a thread or an event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque

from mlservice.store.base import Scope, WatchEvent


class Feed:
    """Implements `Subscription`. A reader that falls `max_pending` events behind is cut off
    (closed with `overflowed` set) instead of growing without bound; it resumes from its last
    resourceVersion, as a Kubernetes watcher does after a dropped connection."""

    def __init__(self, scope: Scope, *, max_pending: int = 10_000) -> None:
        self.scope = scope
        self.overflowed = False
        self._max_pending = max_pending
        self._pending: deque[WatchEvent] = deque()
        self._closed = False
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    def push(self, event: WatchEvent) -> None:
        if not self.scope.covers(event.key):
            return
        with self._cond:
            if self._closed:
                return
            if len(self._pending) >= self._max_pending:
                self.overflowed = True
                self._closed = True
            else:
                self._pending.append(event)
            self._cond.notify_all()
            self._wake_loop()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            self._wake_loop()

    def get(self, timeout: float | None = None) -> WatchEvent | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._pending and not self._closed:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return self._pending.popleft() if self._pending else None

    async def aget(self) -> WatchEvent | None:
        """The next event, or None once closed; bound the wait with `asyncio.timeout`."""
        wakeup = self._bind_loop()
        while True:
            with self._cond:
                if self._pending:
                    return self._pending.popleft()
                if self._closed:
                    return None
                wakeup.clear()
            await wakeup.wait()

    def _bind_loop(self) -> asyncio.Event:
        with self._cond:
            if self._wakeup is None:
                self._loop = asyncio.get_running_loop()
                self._wakeup = asyncio.Event()
            return self._wakeup

    def _wake_loop(self) -> None:
        # Writers run on other threads (or the loop's own); the loop's Event is not thread-safe.
        if self._loop is None or self._wakeup is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._wakeup.set)
        except RuntimeError:  # the reader's loop has already closed
            self._closed = True
