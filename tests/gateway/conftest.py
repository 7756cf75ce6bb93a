"""Gateway tests: pure decisions in-process; the proxy as a real process on loopback ports,
fed snapshots over its admin channel, in front of small real upstream servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gateway.gateway_procs import Gateway, Proc, start_gateway, start_upstream


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gateway")


@pytest.fixture(scope="module")
def gateway(logs: Path) -> Iterator[Gateway]:
    """One gateway per module, with short bounds so waits in tests stay short."""
    running = start_gateway(logs, "--activation-timeout", "3", "--queue-limit", "8")
    yield running
    running.proc.stop()


@pytest.fixture(scope="module")
def up_a(logs: Path) -> Iterator[Proc]:
    proc = start_upstream("a", logs)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def up_b(logs: Path) -> Iterator[Proc]:
    proc = start_upstream("b", logs)
    yield proc
    proc.stop()


@pytest.fixture
def client(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=20, trust_env=False) as http:
        yield http
