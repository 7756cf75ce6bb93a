"""A writer killed with SIGKILL mid-stream loses no acknowledged write and leaves no half write."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from mlservice.store import Scope
from mlservice.store.sqlite import SqliteStore

WRITER = """
import sys
from mlservice.store.sqlite import SqliteStore

store = SqliteStore(sys.argv[1])
i = 0
while True:
    obj = store.create({
        "apiVersion": "tensorstack.dev/v1beta1", "kind": "MLService",
        "metadata": {"name": f"s{i}", "namespace": "default"},
        "spec": {"default": "v1", "payload": "x" * 2000},
    })
    print(obj["metadata"]["name"], obj["metadata"]["resourceVersion"], flush=True)
    i += 1
"""


def test_sigkill_mid_write_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    acknowledged = [writer.stdout.readline().split() for _ in range(200)]
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close()

    store = SqliteStore(db)
    try:
        stored = {
            o["metadata"]["name"]: o["metadata"]["resourceVersion"]
            for o in store.list(Scope("tensorstack.dev", "MLService")).items
        }
        assert all(stored.get(name) == version for name, version in acknowledged)
        # Objects, counter and event log moved together: one event per object, none beyond.
        assert store.resource_version() == len(stored)
        assert sorted(int(v) for v in stored.values()) == list(range(1, len(stored) + 1))
        replayed = store.watch(Scope("tensorstack.dev", "MLService"), since=0)
        events = [replayed.get(0) for _ in range(len(stored) + 1)]
        assert events[-1] is None
        assert all(e is not None and e.object()["spec"]["payload"] for e in events[:-1])
    finally:
        store.close()
