"""Delivering request-log events without ever slowing a request.

`emit` only appends to memory. A background task, woken at most every `FLUSH` seconds,
appends the batch to the local file (every event, always) and hands it to one `Sender` per
sink URL. Each sender posts events in binary mode, a few at a time, and retries failures with
exponential backoff; its queue is bounded, and what does not fit is dropped and counted (the
local file still has it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import httpx

from mlservice.gateway.reqlog import localfile
from mlservice.gateway.reqlog.capture import Capture
from mlservice.gateway.reqlog.events import LogEvent, binary_headers
from mlservice.gateway.snapshot import Revision
from mlservice.redact import redact_url

log = logging.getLogger("mlservice.gateway")

FLUSH = 0.05  # seconds between batches: events reach the file and sinks within about this
PARALLEL = 8  # posts in flight per sink
ATTEMPTS = 5
BACKOFF_FIRST, BACKOFF_MAX = 0.1, 5.0
SEND_TIMEOUT = 5.0
FILE_BACKLOG = 100_000  # events waiting for the disk; past it they are counted and dropped


@dataclass
class SinkStats:
    sent: int = 0
    failed: int = 0  # gave up after retries (the event is in the local file)
    dropped: int = 0  # queue full: never tried (the event is in the local file)


@dataclass
class _Pending:
    event: LogEvent
    attempts: int = 0


class Sender:
    """One sink URL: a bounded queue and a loop that posts and retries."""

    def __init__(self, url: str, *, limit: int, client: httpx.AsyncClient) -> None:
        self.url = url
        self.label = redact_url(url)
        """What logs and metrics call this sink: the URL without its secrets."""
        self.limit = limit
        self.stats = SinkStats()
        self._client = client
        self._queue: deque[_Pending] = deque()
        self._ready = asyncio.Event()
        self._failing = False

    def offer(self, events: list[LogEvent]) -> None:
        for event in events:
            if len(self._queue) >= self.limit:
                self.stats.dropped += 1
            else:
                self._queue.append(_Pending(event))
        self._ready.set()

    async def run(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            await self._ready.wait()
            batch = [self._queue.popleft() for _ in range(min(PARALLEL, len(self._queue)))]
            if not self._queue:
                self._ready.clear()
            results = await asyncio.gather(*(self._post(p.event) for p in batch))
            retry = [p for p, error in zip(batch, results, strict=True) if error]
            self._report(next((e for e in results if e), ""))
            self.stats.sent += len(batch) - len(retry)
            for pending in retry:
                pending.attempts += 1
                if pending.attempts >= ATTEMPTS:
                    self.stats.failed += 1
                elif len(self._queue) < self.limit:
                    self._queue.appendleft(pending)
                    self._ready.set()
                else:
                    self.stats.dropped += 1
            if retry:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            else:
                backoff = BACKOFF_FIRST

    async def _post(self, event: LogEvent) -> str:
        """ "" when delivered, else why not (never the URL: it may hold a secret)."""
        try:
            answer = await self._client.post(
                self.url, content=event.data, headers=binary_headers(event)
            )
        except httpx.HTTPError as exc:
            return type(exc).__name__
        return "" if answer.is_success else f"HTTP {answer.status_code}"

    def _report(self, error: str) -> None:
        """One line when the sink starts failing and one when it recovers, not one per event."""
        if error and not self._failing:
            log.warning(
                "request-log sink %s failing (%s); retrying with backoff", self.label, error
            )
        elif not error and self._failing:
            log.warning("request-log sink %s delivering again", self.label)
        self._failing = bool(error)


class RequestLog:
    def __init__(self, *, folder: Path | None, queue_limit: int, body_limit: int) -> None:
        self.folder = folder
        self.queue_limit = queue_limit
        self.body_limit = body_limit
        self.senders: dict[str, Sender] = {}
        self.file_written = 0
        self.file_dropped = 0
        self._file_backlog: list[LogEvent] = []
        self._wake = asyncio.Event()
        self._client = httpx.AsyncClient(timeout=SEND_TIMEOUT, trust_env=False)
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: list[tuple[list[LogEvent], tuple[str, ...]]] = []

    def capture(self, revision: Revision, _exchange: object) -> Capture:
        assert revision.logger is not None
        return Capture(revision, revision.logger, limit=self.body_limit, emit=self.emit)

    def emit(self, events: list[LogEvent], *, urls: tuple[str, ...]) -> None:
        """Queue `events` (a request's, a response's or both); returns at once."""
        self._pending.append((events, urls))
        self._wake.set()

    def start(self) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self._run()))

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._dispatch()
            if self._file_backlog:
                backlog, self._file_backlog = self._file_backlog, []
                await asyncio.to_thread(self._write, backlog)
            await asyncio.sleep(FLUSH)

    def _dispatch(self) -> None:
        pending, self._pending = self._pending, []
        for events, urls in pending:
            if self.folder is not None:
                room = FILE_BACKLOG - len(self._file_backlog)
                self._file_backlog.extend(events[:room])
                self.file_dropped += max(0, len(events) - room)
            for url in urls:
                self._sender(url).offer(events)

    def _sender(self, url: str) -> Sender:
        sender = self.senders.get(url)
        if sender is None:
            sender = self.senders[url] = Sender(url, limit=self.queue_limit, client=self._client)
            self._tasks.append(asyncio.get_running_loop().create_task(sender.run()))
        return sender

    def _write(self, events: list[LogEvent]) -> None:
        assert self.folder is not None
        try:
            localfile.append(self.folder, events)
            self.file_written += len(events)
        except OSError:
            self.file_dropped += len(events)

    async def close(self) -> None:
        """Write what is waiting to the file, then stop (undelivered events stay in the file)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._dispatch()
        if self._file_backlog:
            self._write(self._file_backlog)
            self._file_backlog = []
        await self._client.aclose()
