"""What every part of a running gateway shares: the table, signals, request log, counters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from mlservice.gateway.config import GatewayConfig
from mlservice.gateway.hosts import HostKeys
from mlservice.gateway.shadow import Shadows
from mlservice.gateway.signals import LoadReport, RevisionLoad, SignalHub
from mlservice.gateway.snapshot import Route
from mlservice.gateway.table import RoutingTable

if TYPE_CHECKING:
    from mlservice.gateway.proxy import ClientConnection
    from mlservice.gateway.reqlog.logger import RequestLog

LOAD_WINDOW = 1.0  # seconds between load reports, as Knative's queue-proxy reports
SWEEP_EVERY = 1.0  # seconds between checks for clients that stopped sending mid-request


class Core:
    def __init__(self, config: GatewayConfig, *, request_log: RequestLog) -> None:
        self.config = config
        self.loop = asyncio.get_running_loop()
        self.hub = SignalHub()
        self.table = RoutingTable(config=config, hub=self.hub)
        self.request_log = request_log
        self.shadows = Shadows(self)
        self.host_key = HostKeys()
        self.connections: set[ClientConnection] = set()
        self.unrouted_codes: dict[int, int] = {}  # answers given before any revision was chosen
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.TimerHandle | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        # Read timeouts are checked by one sweep over the connections, not a timer per read.
        self.sweep_every = min(SWEEP_EVERY, config.header_timeout / 4, config.body_timeout / 4)

    def route_for(self, host: bytes) -> Route | None:
        """What a Host header reaches: its route, else the table's route for any host (the
        agent's single upstream; a gateway has none, and an unknown host gets 404)."""
        return self.table.routes.get(self.host_key(host)) or self.table.any_host

    def unrouted(self, code: int) -> None:
        self.unrouted_codes[code] = self.unrouted_codes.get(code, 0) + 1

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` in the background, holding a reference so it is not collected midway."""
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start_reports(self) -> None:
        self._ticker = self.loop.call_later(LOAD_WINDOW, self._report)

    def start_sweeps(self) -> None:
        self._sweeper = self.loop.call_later(self.sweep_every, self._sweep)

    def _sweep(self) -> None:
        self._sweeper = self.loop.call_later(self.sweep_every, self._sweep)
        now = self.loop.time()
        for conn in list(self.connections):  # a timed-out one leaves the set
            conn.sweep(now)

    def _report(self) -> None:
        self._ticker = self.loop.call_later(LOAD_WINDOW, self._report)
        now = time.monotonic()
        loads = []
        for state in self.table.revisions.values():
            concurrency, requests = state.window.take(now)
            errors, buckets = state.counters.take()
            loads.append(
                RevisionLoad(
                    revision=state.id,
                    concurrency=round(concurrency, 4),
                    requests=requests,
                    in_flight=state.in_flight,
                    queued=state.queued,
                    errors=errors,
                    buckets=buckets,
                )
            )
        report = LoadReport(
            time=time.time(),
            window=LOAD_WINDOW,
            revisions=tuple(loads),
            shadows=self.shadows.take(),
        )
        self.hub.publish(report)

    async def close(self) -> None:
        for timer in (self._ticker, self._sweeper):
            if timer is not None:
                timer.cancel()
        for conn in list(self.connections):
            conn.abort()
        self.table.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        await self.shadows.close()
