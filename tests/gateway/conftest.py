"""Gateway tests: pure decisions in-process; the proxy as a real process on loopback ports,
fed snapshots over its admin channel, in front of small real upstream servers."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
