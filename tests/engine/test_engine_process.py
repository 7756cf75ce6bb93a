"""The spawner and the exec shim: parent-death signal, CPU pinning, exits and termination."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from mlservice.engine.local.process import Launch, Spawner
from tests.engine.engine_helpers import alive

pytestmark = pytest.mark.anyio


def launch(tmp_path: Path, *argv: str) -> Launch:
    return Launch(argv=argv, env=dict(os.environ), cwd=tmp_path, log_path=tmp_path / "out.log")


def python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


async def test_children_die_when_the_spawning_thread_ends(tmp_path: Path) -> None:
    spawner = Spawner()
    process = await spawner.spawn(launch(tmp_path, *python("import time; time.sleep(30)")))
    await asyncio.sleep(0.2)
    assert alive(process.pid), "the child must outlive the event loop's await"
    # The death signal is bound to the thread that forked: ending it must kill the child.
    await asyncio.to_thread(spawner.close)
    assert await asyncio.wait_for(process.exited, 5) == -signal.SIGKILL


async def test_cpu_set_is_applied_before_exec(tmp_path: Path) -> None:
    spawner = Spawner()
    try:
        cpu = min(os.sched_getaffinity(0))
        code = "import os; print(sorted(os.sched_getaffinity(0)))"
        job = replace(launch(tmp_path, *python(code)), cpus=frozenset({cpu}))
        process = await spawner.spawn(job)
        assert await asyncio.wait_for(process.exited, 10) == 0
        assert (tmp_path / "out.log").read_text().strip() == f"[{cpu}]"
    finally:
        spawner.close()


async def test_missing_program_exits_127_with_a_reason_in_the_log(tmp_path: Path) -> None:
    spawner = Spawner()
    try:
        process = await spawner.spawn(launch(tmp_path, "no-such-program-mls", "--flag"))
        assert await asyncio.wait_for(process.exited, 10) == 127
        log = (tmp_path / "out.log").read_text()
        assert log == "mls: cannot run 'no-such-program-mls': No such file or directory\n"
    finally:
        spawner.close()


async def test_terminate_escalates_to_sigkill_after_the_grace(tmp_path: Path) -> None:
    stubborn = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('up', flush=True)\n"
        "time.sleep(30)\n"
    )
    spawner = Spawner()
    try:
        process = await spawner.spawn(launch(tmp_path, *python(stubborn)))
        for _ in range(200):  # until the handler is installed: at most 200 x 10 ms
            if (tmp_path / "out.log").read_text():
                break
            await asyncio.sleep(0.01)
        began = time.monotonic()
        assert await process.terminate(0.3) == -signal.SIGKILL
        assert 0.3 <= time.monotonic() - began < 5
    finally:
        spawner.close()
