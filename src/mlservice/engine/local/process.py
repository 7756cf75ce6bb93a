"""Starting a container process and watching it exit.

Processes are forked from one long-lived thread (`Spawner`): the parent-death signal the
shim arms fires when the *thread* that forked the child ends, so forking from a short-lived
worker thread would kill replicas at random. Each process leads its own session and process
group; stopping it signals the whole group.

The engine sees processes only through `ProcessSpawner` and `ProcessHandle`, so the process
that forks replicas (and whose death ends them) need not be the one that supervises them:
under `mls up` the data-plane supervisor forks (`Spawner`), and the control plane drives it
over a channel (`channel.py`). A restarted control plane asks `running()` for what still runs
and adopts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mlservice.engine.local import procfs, shim, standby
from mlservice.engine.local.pidfiles import ProcessRecord, current_process

REFILL_DELAY = 3.0  # seconds before a taken standby is replaced: let the new replica start first


@dataclass(frozen=True)
class Launch:
    """Everything needed to start one container process."""

    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    cpus: frozenset[int] | None = None
    tag: str = ""
    """Names the process for adoption: `{namespace}/{revision}/{replica}/{container}`."""


class ProcessHandle(Protocol):
    """A started process as the engine sees it, wherever it was forked."""

    pid: int
    start_time: int
    tag: str
    exited: asyncio.Future[int]
    """Resolves to the exit code (negative: killed by a signal)."""

    def signal_group(self, sig: signal.Signals) -> None: ...

    async def terminate(self, grace: float) -> int:
        """SIGTERM to the group, then SIGKILL after `grace` seconds; returns the exit code."""
        ...


class ProcessSpawner(Protocol):
    """Forks container processes; their lives end with `owner`'s."""

    owner: ProcessRecord

    async def spawn(self, launch: Launch) -> ProcessHandle: ...

    async def running(self) -> list[ProcessHandle]:
        """Every process it started that still runs (for adoption after a restart)."""
        ...

    async def aclose(self) -> None: ...


async def terminate_group(handle: ProcessHandle, grace: float) -> int:
    if not handle.exited.done():
        handle.signal_group(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(handle.exited), grace)
        except TimeoutError:
            handle.signal_group(signal.SIGKILL)
    return await handle.exited


class Process:
    """A process forked here; `exited` resolves to its exit code (negative: killed by a
    signal)."""

    def __init__(
        self, popen: subprocess.Popen[bytes], loop: asyncio.AbstractEventLoop, tag: str = ""
    ) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.tag = tag
        self.start_time = procfs.start_time(popen.pid) or 0
        self.exited: asyncio.Future[int] = loop.create_future()
        self._pidfd = os.pidfd_open(popen.pid)
        self._loop = loop
        loop.add_reader(self._pidfd, self._on_exit)

    def signal_group(self, sig: signal.Signals) -> None:
        # While the leader is unreaped its pid cannot be reused, so the group id is still ours.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def terminate(self, grace: float) -> int:
        return await terminate_group(self, grace)

    def _on_exit(self) -> None:
        # The leader is a zombie now: kill what it left in its group before reaping it.
        self.signal_group(signal.SIGKILL)
        code = self._popen.poll()
        if code is None:
            return
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        if not self.exited.done():
            self.exited.set_result(code)


class Spawner:
    """Forks every replica process from one thread that lives as long as the engine.

    With `warm`, a scikit-learn `mls serve` launch is handed to a standby that has its
    imports done (`standby.py`); one is started at once, and again after each is taken."""

    def __init__(self, *, warm: bool = False) -> None:
        self.owner = current_process()
        self._live: dict[int, Process] = {}
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mls-spawner")
        self._standbys = standby.Standbys(_popen_standby) if warm else None
        if self._standbys is not None:
            self._thread.submit(self._standbys.refill, standby.base_environment())

    async def spawn(self, launch: Launch) -> Process:
        loop = asyncio.get_running_loop()
        popen = await loop.run_in_executor(self._thread, self._start, launch)
        process = Process(popen, loop, launch.tag)
        self._live[process.pid] = process
        process.exited.add_done_callback(lambda _: self._live.pop(process.pid, None))
        return process

    async def running(self) -> list[ProcessHandle]:
        return [p for p in self._live.values() if not p.exited.done()]

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def _start(self, launch: Launch) -> subprocess.Popen[bytes]:
        standbys = self._standbys
        if standbys is None or not standby.qualifies(launch):
            return _popen(launch)
        taken = standbys.take(launch)
        timer = threading.Timer(REFILL_DELAY, self._refill, args=(launch.env,))
        timer.daemon = True
        timer.start()
        return taken if taken is not None else _popen(launch)

    def _refill(self, env: dict[str, str]) -> None:
        if self._standbys is not None:
            with contextlib.suppress(RuntimeError):  # shut down meanwhile
                self._thread.submit(self._standbys.refill, env)

    def close(self) -> None:
        if self._standbys is not None:
            with contextlib.suppress(RuntimeError):
                self._thread.submit(self._standbys.close)
        self._thread.shutdown(wait=True)


def shim_argv(launch: Launch) -> list[str]:
    cpus = ",".join(str(c) for c in sorted(launch.cpus)) if launch.cpus else "-"
    return [sys.executable, "-I", "-S", shim.__file__, str(os.getpid()), cpus, "--", *launch.argv]


def _popen_standby(argv: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """A standby: as a replica, but its stdin is the pipe its launch will come through."""
    launch = Launch(argv=tuple(argv), env=dict(env), cwd=Path("/"), log_path=Path(os.devnull))
    return subprocess.Popen(
        shim_argv(launch),
        cwd=launch.cwd,
        env=launch.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def _popen(launch: Launch) -> subprocess.Popen[bytes]:
    with open(launch.log_path, "ab") as log:
        return subprocess.Popen(
            shim_argv(launch),
            cwd=launch.cwd,
            env=launch.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
