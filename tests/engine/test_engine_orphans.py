"""No orphans: not after a stop, not after the engine is SIGKILLed (parent-death signal), and
what pdeathsig cannot reach (grandchildren) is reaped by the next engine on the same home."""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlservice.engine.local import LocalEngine
from mlservice.engine.local.pidfiles import ProcessRecord, reap_leftovers, write_record
from mlservice.engine.local.procfs import start_time
from mlservice.home import Home
from tests.engine.engine_helpers import (
    Events,
    alive,
    fast_config,
    forker_revision,
    grandchild_of,
    kill_quietly,
    wait_dead,
)
from tests.support.paths import REPO


def read_line(proc: subprocess.Popen[str], *, timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            pytest.fail(f"engine host printed nothing within {timeout}s")
    return proc.stdout.readline()


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True
    )
    yield proc
    proc.kill()
    proc.wait()


def test_killed_engine_leaves_no_replica_and_the_next_engine_reaps_the_rest(home: Home) -> None:
    host = subprocess.Popen(
        [sys.executable, "-m", "tests.engine.engine_host", str(home.root), "2"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,  # where `-m` finds the tests package
    )
    pids: dict[str, list[int]] = {"replicas": [], "grandchildren": []}
    try:
        pids = json.loads(read_line(host, timeout=30))
        assert len(pids["replicas"]) == 2
        host.send_signal(signal.SIGKILL)
        host.wait(timeout=10)

        assert wait_dead(pids["replicas"]) == [], "replicas outlived their engine"
        # Grandchildren do not get the parent-death signal; they are what reaping is for.
        assert all(alive(pid) for pid in pids["grandchildren"])

        reaped = asyncio.run(start_and_close(home))
        assert set(pids["grandchildren"]) <= set(reaped)
        assert wait_dead(pids["grandchildren"]) == []
        assert list(home.replicas.glob("*/*/*/owner.json")) == []
    finally:
        host.kill()
        host.wait()
        if host.stdout is not None:
            host.stdout.close()
        kill_quietly(pids["replicas"] + pids["grandchildren"])


async def start_and_close(home: Home) -> list[int]:
    engine = LocalEngine(fast_config(home))
    try:
        return await engine.start()
    finally:
        await engine.close()


@pytest.mark.anyio
async def test_stop_kills_the_whole_process_group(engine: LocalEngine, events: Events) -> None:
    rev = forker_revision()
    await engine.ensure(rev, 1)
    [state] = await events.until(
        lambda s: len(s) == 1 and grandchild_of(s[0].logs["user-container"]) is not None,
        what="the grandchild to start",
    )
    grandchild = grandchild_of(state.logs["user-container"])
    assert grandchild is not None
    assert state.pid is not None
    try:
        await engine.stop(rev.id)
        assert wait_dead([state.pid, grandchild], timeout=3) == []
    finally:
        kill_quietly([grandchild])


def plant_replica(home: Home, *, owner: ProcessRecord, process: ProcessRecord) -> Path:
    root = home.replicas / "default" / "old-predict-v1-00001" / "old-predict-v1-00001-abcde"
    root.mkdir(parents=True)
    write_record(root / "owner.json", owner)
    write_record(root / "user-container.pid", process)
    return root


def record_of(proc: subprocess.Popen[bytes]) -> ProcessRecord:
    started = start_time(proc.pid)
    assert started is not None
    return ProcessRecord(proc.pid, started)


DEAD_ENGINE = ProcessRecord(pid=1, start_time=-1)  # pid 1 never started at -1: long gone


def test_reaping_kills_a_leftover_whose_start_time_matches(
    home: Home, sleeper: subprocess.Popen[bytes]
) -> None:
    root = plant_replica(home, owner=DEAD_ENGINE, process=record_of(sleeper))
    assert reap_leftovers(home) == [sleeper.pid]
    assert sleeper.wait(timeout=5) == -signal.SIGKILL
    assert not root.exists()


def test_reaping_spares_a_recycled_pid(home: Home, sleeper: subprocess.Popen[bytes]) -> None:
    record = record_of(sleeper)
    plant_replica(home, owner=DEAD_ENGINE, process=ProcessRecord(record.pid, record.start_time - 1))
    assert reap_leftovers(home) == []
    assert sleeper.poll() is None


def test_reaping_spares_replicas_of_a_live_engine(
    home: Home, sleeper: subprocess.Popen[bytes]
) -> None:
    other_engine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        root = plant_replica(home, owner=record_of(other_engine), process=record_of(sleeper))
        assert reap_leftovers(home) == []
        assert sleeper.poll() is None
        assert root.exists()
    finally:
        other_engine.kill()
        other_engine.wait()
    assert os.getpid() != other_engine.pid
