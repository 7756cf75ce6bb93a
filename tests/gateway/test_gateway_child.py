"""`RestartingChild`, the restart loop the gateway and the control plane share: a child that
exits is started again after the backoff, one that does not come up is tried again, and one
that is stopped stays stopped."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import pytest

from mlservice.errors import Unavailable
from mlservice.gateway.child import RestartingChild
from tests.support.polling import wait_until_async

pytestmark = pytest.mark.anyio
SLEEP = "import time; time.sleep(60)"


class Sleeper(RestartingChild):
    """A child that sleeps until killed; the spawns numbered in `failing` die at once and
    raise `Unavailable`, as a gateway that never answers its health check."""

    def __init__(self, *, failing: frozenset[int] = frozenset()) -> None:
        super().__init__(
            name="sleeper",
            log=logging.getLogger("tests.child"),
            backoff_max=0.2,
            on_restart=self._told,
        )
        self.failing = failing
        self.spawns = 0
        self.restarts_told = 0

    async def _told(self) -> None:
        self.restarts_told += 1

    async def _spawn(self) -> None:
        self.spawns += 1
        self.proc = await asyncio.create_subprocess_exec(sys.executable, "-c", SLEEP)
        if self.spawns in self.failing:
            self.proc.kill()
            raise Unavailable("the sleeper did not come up")

    async def start(self) -> None:
        await self._spawn()
        self._watch_exits()

    async def stop(self) -> None:
        await self._terminate(5.0)


async def test_a_child_that_exits_is_restarted_until_stopped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    child = Sleeper()
    await child.start()
    try:
        assert child.proc is not None
        first = child.proc
        first.send_signal(signal.SIGKILL)
        await wait_until_async(lambda: child.restarts == 1, timeout=20, message="a restart")
        assert child.proc is not first
        assert child.restarts_told == 1
        assert "sleeper exited with code -9; restarting in 0.1s" in caplog.messages
    finally:
        await child.stop()
    assert child.proc is not None
    assert child.proc.returncode == -signal.SIGTERM
    await asyncio.sleep(0.3)  # longer than any backoff: no restart after a stop
    assert child.restarts == 1


async def test_a_restart_that_does_not_come_up_is_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    child = Sleeper(failing=frozenset({2}))
    await child.start()
    try:
        assert child.proc is not None
        child.proc.send_signal(signal.SIGKILL)
        await wait_until_async(lambda: child.restarts == 1, timeout=20, message="a restart")
        assert child.restarts_told == 1
        assert child.spawns == 3  # the first start, the one that failed, the one that came up
        assert "the sleeper did not come up" in caplog.messages
        assert "sleeper exited with code -9; restarting in 0.2s" in caplog.messages
    finally:
        await child.stop()
