"""Crashes, kills and the memory watchdog: restarts with backoff and the reasons reported."""

from __future__ import annotations

import os
import re
import signal

import pytest

from mlservice.engine import ReplicaState
from mlservice.engine.local import LocalEngine
from mlservice.home import Home
from tests.engine.engine_helpers import Events, alive, fast_config, python, revision

pytestmark = pytest.mark.anyio


def restart_delays(events: Events) -> list[float]:
    found = []
    for event in events.seen:
        if event.replica.phase == "CrashLoopBackOff":
            match = re.search(r"restarting in ([\d.]+)s", event.replica.message)
            assert match, event.replica.message
            found.append(float(match.group(1)))
    return found


async def test_exiting_command_loops_with_growing_backoff_and_its_log_tail(
    engine: LocalEngine, events: Events
) -> None:
    code = "import sys; print('loading model'); sys.exit('boom: no weights')"
    await engine.ensure(revision(command=python(code)), 1)
    [state] = await events.until(
        lambda s: len(s) == 1 and s[0].restarts >= 4 and s[0].phase == "CrashLoopBackOff",
        what="four crashes",
    )
    assert state.reason == "CrashLoopBackOff"
    assert "exited with code 1" in state.message
    assert state.message.endswith("loading model\nboom: no weights")
    assert not state.ready
    # base 0.1 s doubling, capped at 0.4 s by the test configuration
    assert restart_delays(events)[:4] == [0.1, 0.2, 0.4, 0.4]
    # between restarts the replica keeps saying why it is not ready
    restarting = [e.replica for e in events.seen if e.replica.phase == "Starting"][1:]
    assert restarting
    assert all(s.reason == "CrashLoopBackOff" and "boom" in s.message for s in restarting)


async def test_a_process_that_stayed_up_restarts_with_the_base_delay(home: Home) -> None:
    async with LocalEngine(fast_config(home, stable_after=0.2)) as engine:
        events = Events(engine)
        code = "import time, sys; time.sleep(0.3); sys.exit(1)"
        await engine.ensure(revision(command=python(code)), 1)
        await events.until(lambda s: len(s) == 1 and s[0].restarts >= 3, what="three crashes")
        assert restart_delays(events)[:3] == [0.1, 0.1, 0.1]


async def test_sigkilled_replica_is_restarted_and_ready_again(
    engine: LocalEngine, events: Events
) -> None:
    await engine.ensure(revision(), 1)
    [before] = await events.until_ready(1)
    assert before.pid is not None
    os.kill(before.pid, signal.SIGKILL)

    [after] = await events.until(
        lambda s: len(s) == 1 and s[0].ready and s[0].restarts == 1,
        within=10.0,
        what="the replica back and ready",
    )
    assert after.id == before.id
    assert after.pid not in (None, before.pid)
    assert not alive(before.pid)
    assert "was killed by SIGKILL" in "".join(
        e.replica.message for e in events.seen if e.replica.phase == "CrashLoopBackOff"
    )


async def test_memory_hog_is_oom_killed(engine: LocalEngine, events: Events) -> None:
    hog = "import time; print('allocating', flush=True); b = b'x' * (150 << 20); time.sleep(30)"
    rev = revision(command=python(hog), resources={"limits": {"memory": "50Mi"}})
    await engine.ensure(rev, 1)

    def oom_events() -> list[ReplicaState]:
        return [e.replica for e in events.seen if e.replica.phase == "OOMKilled"]

    await events.until(lambda _: bool(oom_events()), what="an OOMKilled replica")
    killed = oom_events()[0]
    assert killed.reason == "OOMKilled"
    assert "of its 50Mi limit" in killed.message
    assert "allocating" in killed.message
    assert killed.restarts == 1


async def test_container_without_command_fails_with_a_reason(
    engine: LocalEngine, events: Events
) -> None:
    await engine.ensure(revision(command=()), 1)
    [state] = await events.until(lambda s: len(s) == 1 and s[0].phase == "Failed")
    assert state.message == (
        "container user-container has no command; the local engine cannot run an image's "
        "entrypoint."
    )
    assert state.restarts == 0
