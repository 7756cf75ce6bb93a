"""Watch: snapshot then live, replay from a resourceVersion, scopes, compaction, event loops."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from mlservice import errors
from mlservice.store import EventType, Key, Scope, WatchEvent
from mlservice.store.feed import Feed
from mlservice.store.sqlite import SqliteStore

MLSVC = Scope("tensorstack.dev", "MLService")


def mlservice(name: str, *, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"default": "v1"},
    }


def drain(feed: Feed) -> list[tuple[str, str, int]]:
    events: list[WatchEvent] = []
    while (event := feed.get(timeout=0)) is not None:
        events.append(event)
    return [(e.type.value, e.key.name, e.resource_version) for e in events]


def test_watch_without_version_starts_with_the_current_objects(store: SqliteStore) -> None:
    store.create(mlservice("a"))
    store.create(mlservice("b"))
    feed = store.watch(MLSVC)
    store.delete(Key("tensorstack.dev", "MLService", "default", "a"))
    assert drain(feed) == [("ADDED", "a", 1), ("ADDED", "b", 2), ("DELETED", "a", 3)]


def test_watch_replays_exactly_what_followed_a_version(store: SqliteStore) -> None:
    created = store.create(mlservice("a"))
    store.update_status({**created, "status": {"ready": True}})
    store.create(mlservice("b"))
    feed = store.watch(MLSVC, since=1)
    store.create(mlservice("c"))
    assert drain(feed) == [("MODIFIED", "a", 2), ("ADDED", "b", 3), ("ADDED", "c", 4)]
    first = store.watch(MLSVC, since=1).get(timeout=0)
    assert first is not None
    assert first.object()["status"] == {"ready": True}


def test_watch_scope_filters_namespace_and_kind(store: SqliteStore) -> None:
    feed = store.watch(Scope("tensorstack.dev", "MLService", "team-a"))
    store.create(mlservice("x", namespace="team-b"))
    store.create({**mlservice("y", namespace="team-a"), "kind": "SimpleMLService"})
    store.create(mlservice("z", namespace="team-a"))
    assert drain(feed) == [("ADDED", "z", 3)]


def test_deleted_event_carries_the_last_state(store: SqliteStore) -> None:
    created = store.create(mlservice("a"))
    store.update_status({**created, "status": {"ready": True}})
    feed = store.watch(MLSVC, since=2)
    store.delete(Key.of(created))
    event = feed.get(timeout=1)
    assert event is not None
    assert event.type is EventType.DELETED
    assert event.object()["status"] == {"ready": True}
    assert event.object()["metadata"]["resourceVersion"] == "3"


def test_replay_survives_a_restart(db_path: Path) -> None:
    first = SqliteStore(db_path)
    first.create(mlservice("a"))
    first.create(mlservice("b"))
    first.close()
    second = SqliteStore(db_path)
    try:
        assert drain(second.watch(MLSVC, since=1)) == [("ADDED", "b", 2)]
    finally:
        second.close()


def test_compacted_history_is_gone(db_path: Path) -> None:
    small = SqliteStore(db_path, event_retention=10)
    try:
        for i in range(30):
            small.create(mlservice(f"s{i}"))
        with pytest.raises(errors.Gone, match="resourceVersion 2 is older than the kept history"):
            small.watch(MLSVC, since=2)
        recent = drain(small.watch(MLSVC, since=25))
        assert [name for _, name, _ in recent] == ["s25", "s26", "s27", "s28", "s29"]
    finally:
        small.close()


def test_a_reader_that_falls_too_far_behind_is_cut_off() -> None:
    feed = Feed(MLSVC, max_pending=2)
    key = Key("tensorstack.dev", "MLService", "default", "a")
    for version in (1, 2, 3):
        feed.push(WatchEvent(EventType.ADDED, version, key, "{}"))
    assert feed.closed
    assert feed.overflowed
    assert [feed.get(0), feed.get(0), feed.get(0)] == [
        WatchEvent(EventType.ADDED, 1, key, "{}"),
        WatchEvent(EventType.ADDED, 2, key, "{}"),
        None,
    ]


def test_event_loop_reader_wakes_on_writes_from_threads(store: SqliteStore) -> None:
    async def read_three() -> list[str]:
        feed = store.watch(MLSVC, since=0)
        writer = threading.Thread(
            target=lambda: [store.create(mlservice(n)) for n in ("a", "b", "c")]
        )
        writer.start()
        names = []
        async with asyncio.timeout(10):
            for _ in range(3):
                event = await feed.aget()
                assert event is not None
                names.append(event.key.name)
        writer.join(timeout=10)
        return names

    assert asyncio.run(read_three()) == ["a", "b", "c"]


def test_closing_watches_ends_readers(store: SqliteStore) -> None:
    async def read_until_closed() -> WatchEvent | None:
        feed = store.watch(MLSVC, since=0)
        asyncio.get_running_loop().call_later(0.05, store.close_watches)
        async with asyncio.timeout(10):
            return await feed.aget()

    assert asyncio.run(read_until_closed()) is None
