"""Helpers for the canary analysis tests: a virtual clock, metrics the test sets, and a
controller world that runs the analysis on both. A module of its own so test files share it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from mlservice.controller import ControllerConfig, Controllers, MemorySink
from mlservice.controller.analysis import ReleaseWindow
from mlservice.controller.analysis_step import with_analysis
from mlservice.controller.builtin import install_builtin_runtimes
from mlservice.controller.kinds import KINDS
from mlservice.engine import RevisionId
from mlservice.engine.fake import FakeEngine
from mlservice.home import Home
from mlservice.store import Key
from mlservice.store.sqlite import SqliteStore
from tests.controller.controller_helpers import World


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeMetrics:
    """Whatever window the test sets per revision, for any span."""

    def __init__(self) -> None:
        self.windows: dict[str, ReleaseWindow] = {}
        self.asked: list[tuple[str, float, float]] = []

    def window(self, revision_id: RevisionId, *, since: float, until: float) -> ReleaseWindow:
        self.asked.append((revision_id, since, until))
        return self.windows.get(revision_id, ReleaseWindow())


class Analysed(World):
    """A world on a virtual clock whose analysed object is `key`."""

    key: Key
    clock: Clock
    metrics: FakeMetrics

    async def look(self, after: float) -> None:
        """`after` virtual seconds later, one more pass (as the requeue would bring)."""
        self.clock.advance(after)
        self.controllers.queue.add(self.key)
        await self.settle()


A = TypeVar("A", bound=Analysed)


@contextlib.asynccontextmanager
async def analysed_world(home: Home, world: type[A]) -> AsyncIterator[A]:
    """Controllers whose MLService and InferenceService reconcilers read `FakeMetrics`."""
    store, engine, sink, clock = SqliteStore.in_memory(), FakeEngine(), MemorySink(), Clock()
    metrics = FakeMetrics()
    install_builtin_runtimes(store)
    config = ControllerConfig(home=home, domain="example.test", drain_seconds=0.0)
    controllers = Controllers(
        store=store,
        engine=engine,
        config=config,
        sinks=[sink],
        clock=clock,
        kinds=with_analysis(KINDS, metrics),
    )
    await controllers.start()
    found = world(store=store, engine=engine, controllers=controllers, sink=sink, home=home)
    found.clock, found.metrics = clock, metrics
    try:
        yield found
    finally:
        await controllers.close()
        await engine.close()
        store.close()
