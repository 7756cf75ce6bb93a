"""Real engines on a temporary home, with timings shrunk so crashes and probes take
milliseconds; replicas are small Python programs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mlservice.engine.local import LocalEngine
from mlservice.home import Home
from tests.engine.engine_helpers import Events, fast_config


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


@pytest.fixture
async def engine(home: Home) -> AsyncIterator[LocalEngine]:
    async with LocalEngine(fast_config(home)) as running:
        yield running


@pytest.fixture
def events(engine: LocalEngine) -> Iterator[Events]:
    watcher = Events(engine)
    yield watcher
    watcher.unsubscribe()
