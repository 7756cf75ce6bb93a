"""Controllers over a FakeEngine and a real in-memory store, on a temporary data dir."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mlservice.controller import ControllerConfig, Controllers, MemorySink
from mlservice.controller.builtin import install_builtin_runtimes
from mlservice.controller.secrets import secret_lookup, service_account_lookup
from mlservice.engine.fake import FakeEngine
from mlservice.engine.local.resolve import Resolver
from mlservice.home import Home
from mlservice.storage import create_volume
from mlservice.store.sqlite import SqliteStore
from tests.controller.controller_helpers import World


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home")
    create_volume(home, "models")
    for name in ("iris", "iris2"):
        folder = home.volume("models") / name
        folder.mkdir(parents=True)
        (folder / "model.joblib").write_bytes(b"not really a model; the fake engine never reads it")
    return home


@pytest.fixture
async def world(home: Home) -> AsyncIterator[World]:
    store = SqliteStore.in_memory()
    # The local engine's resolver prepares revisions, so downloads, Secrets and PATH checks
    # reach status as they do under `mls up`; nothing runs.
    resolver = Resolver(
        home=home,
        secrets=secret_lookup(store),
        accounts=service_account_lookup(store),
        gateway="127.0.0.1:8080",
    )
    async with _world(home, store, FakeEngine(prepare=resolver.resolve)) as found:
        yield found


@pytest.fixture
async def neutral_world(home: Home) -> AsyncIterator[World]:
    """Controllers over an engine that resolves nothing: what a Kubernetes engine receives."""
    async with _world(home, SqliteStore.in_memory(), FakeEngine()) as found:
        yield found


@contextlib.asynccontextmanager
async def _world(home: Home, store: SqliteStore, engine: FakeEngine) -> AsyncIterator[World]:
    install_builtin_runtimes(store)
    sink = MemorySink()
    config = ControllerConfig(
        home=home, domain="example.test", gateway_port=8080, drain_seconds=0.0
    )
    controllers = Controllers(store=store, engine=engine, config=config, sinks=[sink])
    await controllers.start()
    try:
        yield World(store=store, engine=engine, controllers=controllers, sink=sink, home=home)
    finally:
        await controllers.close()
        await engine.close()
        store.close()
