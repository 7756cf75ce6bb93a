"""The work queue: one lane per key, marks folded while busy, errors retried with backoff."""

from __future__ import annotations

import asyncio

import pytest

from mlservice.controller.queue import WorkQueue

pytestmark = pytest.mark.anyio


async def test_marks_during_a_pass_fold_into_one_more_and_keys_run_apart() -> None:
    running: dict[str, int] = {}
    passes: list[str] = []
    release = asyncio.Event()

    async def handler(key: str) -> None:
        running[key] = running.get(key, 0) + 1
        assert running[key] == 1, "two passes of one key overlapped"
        passes.append(key)
        if key == "a" and passes.count("a") == 1:
            await release.wait()
        running[key] -= 1

    queue: WorkQueue[str] = WorkQueue(handler)
    queue.add("a")
    await asyncio.sleep(0.01)
    for _ in range(5):
        queue.add("a")  # all folded into one more pass
    queue.add("b")  # not held up by "a"
    await asyncio.sleep(0.01)
    assert passes == ["a", "b"]
    release.set()
    async with asyncio.timeout(5):
        await queue.join()
    assert passes == ["a", "b", "a"]
    await queue.close()


async def test_a_failing_pass_is_retried_and_a_delay_is_honoured() -> None:
    attempts: list[float] = []
    third = asyncio.Event()

    async def handler(key: str) -> float | None:
        attempts.append(asyncio.get_running_loop().time())
        if len(attempts) == 3:
            third.set()
        if len(attempts) == 1:
            raise RuntimeError("flaky")
        return 0.05 if len(attempts) == 2 else None

    queue: WorkQueue[str] = WorkQueue(handler, error_backoff=(0.05, 1.0))
    queue.add("k")
    async with asyncio.timeout(5):
        await third.wait()
    assert attempts[1] - attempts[0] >= 0.04  # the error's backoff
    assert attempts[2] - attempts[1] >= 0.04  # the handler's own delay
    await asyncio.sleep(0.1)
    assert len(attempts) == 3  # None: no further pass
    await queue.close()
