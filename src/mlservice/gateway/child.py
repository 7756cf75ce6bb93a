"""A child process of `mls up` that is restarted with backoff whenever it exits, until stopped.

The gateway (`process.py`) and the control plane (`platform/supervisor.py`) are such children:
they differ in how one is started and share how it is watched, restarted and stopped. It lives
here, in the gateway's layer, because the platform above may import it and the gateway may not
import the platform.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from mlservice.errors import Unavailable

FIRST_BACKOFF = 0.1


class RestartingChild(abc.ABC):
    """A subclass's `_spawn` starts the child into `proc`; after `_watch_exits` a task restarts
    it each time it exits (after 0.1 s, doubling up to `backoff_max`, never reset), until
    `_terminate`."""

    def __init__(
        self,
        *,
        name: str,
        log: logging.Logger,
        backoff_max: float,
        on_restart: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        """How many times the child came up again after exiting."""
        self.on_restart = on_restart
        """Awaited after each restart that came up."""
        self._log = log
        self._exited = f"{name} exited with code %s; restarting in %.1fs"
        self._backoff_max = backoff_max
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False

    @abc.abstractmethod
    async def _spawn(self) -> None:
        """Start the child into `proc`; `Unavailable` if it started but did not come up."""

    def _watch_exits(self) -> None:
        self._watch = asyncio.get_running_loop().create_task(self._supervise())

    async def _supervise(self) -> None:
        backoff = FIRST_BACKOFF
        while True:
            assert self.proc is not None
            code = await self.proc.wait()
            if self._stopping:
                return
            self._log.warning(self._exited, code, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._backoff_max)
            try:
                await self._spawn()
            except Unavailable as exc:
                # Still watched: once the one that did not come up exits, it is tried again.
                self._log.warning("%s", exc)
                continue
            self.restarts += 1
            if self.on_restart is not None:
                await self.on_restart()

    async def _terminate(self, grace: float) -> None:
        """No more restarts; SIGTERM the child, SIGKILL after `grace`; then stop watching."""
        self._stopping = True
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
