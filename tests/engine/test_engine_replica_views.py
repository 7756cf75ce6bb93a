"""What the engine tells views such as the API's Pods: a replica's revision and age, each
container's current and previous run in its log, revisions whose preparation fails, and a
replica restarted as a ReplicaSet replaces a deleted pod."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from mlservice.engine import ModelSource
from mlservice.engine.local import LocalEngine
from mlservice.errors import StorageError
from mlservice.home import Home
from tests.engine.engine_helpers import Events, python, revision

pytestmark = pytest.mark.anyio


def span_text(path: Path, start: int, end: int | None) -> str:
    data = path.read_bytes()
    return data[start:end].decode()


async def test_a_replica_carries_its_revision_and_when_it_was_made(
    engine: LocalEngine, events: Events
) -> None:
    before = time.time()
    spec = revision()
    await engine.ensure(spec, 1)
    [state] = await events.until_ready(1)
    assert state.revision == spec
    assert before <= state.created <= time.time()


async def test_each_run_of_a_container_is_its_own_span_of_the_log(
    engine: LocalEngine, events: Events
) -> None:
    code = "import os, sys; print('run of', os.getpid(), flush=True); sys.exit(3)"
    await engine.ensure(revision(command=python(code)), 1)
    [state] = await events.until(
        lambda s: (
            len(s) == 1 and s[0].restarts >= 2 and s[0].containers[0].previous_log is not None
        ),
        what="two restarts",
    )
    container = state.containers[0]
    previous = container.previous_log
    assert previous is not None
    assert previous.path == container.log_path
    assert container.log_start == previous.end  # the current run starts where it ended
    ran = span_text(previous.path, previous.start, previous.end)
    assert ran.count("run of") == 1  # one run, not the whole file
    assert container.log_path.read_text().count("run of") >= 2


async def test_restart_replaces_one_replica_by_a_new_one(
    engine: LocalEngine, events: Events
) -> None:
    await engine.ensure(revision(), 2)
    first, second = await events.until_ready(2)
    assert await engine.restart(first.id)
    states = await events.until_ready(2)
    ids = {s.id for s in states}
    assert first.id not in ids
    assert second.id in ids
    assert not await engine.restart(first.id)  # gone now


async def test_a_failing_preparation_is_listed_until_it_succeeds_or_stops(
    engine: LocalEngine, home: Home, tmp_path: Path
) -> None:
    missing = tmp_path / "no-model-here"
    spec = dataclasses.replace(revision(), model=ModelSource(str(missing)))
    for _ in range(2):
        with pytest.raises(StorageError):
            await engine.prepare(spec)
    [failure] = await engine.failed_preparations()
    assert (failure.revision, failure.failures, failure.storage) == (spec, 2, True)
    assert failure.reason == "StorageNotFound"
    assert failure.log is not None
    assert str(missing) in failure.log.read_text()
    missing.mkdir()
    await engine.prepare(spec)
    assert await engine.failed_preparations() == []
    missing.rmdir()
    other = dataclasses.replace(spec, name="svc-predict-v1-00002")
    with pytest.raises(StorageError):
        await engine.prepare(other)
    await engine.stop(other.id)
    assert await engine.failed_preparations() == []
