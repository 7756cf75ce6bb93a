"""The SQLite store: the only module that talks to sqlite3.

Every write is one `BEGIN IMMEDIATE` transaction that updates the object, bumps the store-wide
resourceVersion counter and appends the watch event together, so a crash mid-write leaves either
all of it or none of it. WAL mode with `synchronous=NORMAL` keeps every committed write across a
process crash (only a power cut may lose the last few), which is what a control plane on one
machine needs without an fsync per write. Events are kept in a table, so a watcher can resume
from a resourceVersion even across restarts, until compaction drops them (then `Gone`).

Watch subscribers live in this process: a write made by another process that opens the same
file reaches them only after this process next publishes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from mlservice.errors import AlreadyExists, Gone, NotFound, ResourceVersionTooLarge
from mlservice.store import objects
from mlservice.store.base import EventType, Key, ListResult, Obj, Scope, WatchEvent
from mlservice.store.feed import Feed

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    grp TEXT NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    rv INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (grp, kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS events (
    rv INTEGER PRIMARY KEY, type TEXT NOT NULL,
    grp TEXT NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('rv', 0), ('compacted', 0);
"""
_KEY_WHERE = "grp = ? AND kind = ? AND namespace = ? AND name = ?"


def _key_args(key: Key) -> tuple[str, str, str, str]:
    return (key.group, key.kind, key.namespace, key.name)


def _dumps(obj: Obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _make_private(path: Path) -> None:
    """Create the database file owner-only before SQLite opens it: it holds every Secret.

    SQLite gives the `-wal` and `-shm` files it creates the database file's mode, so they are
    0600 too; files left by an older version are tightened here as well."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        with suppress(FileNotFoundError):
            os.chmod(f"{path}{suffix}", 0o600)


class SqliteStore:
    """Implements `Store`. One connection guarded by a lock: safe to share between the API's
    worker threads, controller threads and event loops."""

    def __init__(self, path: Path | str, *, event_retention: int = 10_000) -> None:
        self._retention = event_retention
        # Compacting costs a DELETE; a tenth of the retention keeps the table within 110% of it.
        self._compact_every = max(1, min(1000, event_retention // 10))
        self._lock = threading.RLock()
        self._feeds: list[Feed] = []
        self._published: list[WatchEvent] = []
        if str(path) != ":memory:":
            _make_private(Path(path))
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        with self._lock:
            self._db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")

    @classmethod
    def in_memory(cls, *, event_retention: int = 10_000) -> SqliteStore:
        """A throwaway store, for tests of code that needs a real one but not a file."""
        return cls(":memory:", event_retention=event_retention)

    # -- reads -------------------------------------------------------------------------------

    def get(self, key: Key) -> Obj:
        with self._lock:
            body = self._body(key)
        if body is None:
            raise NotFound(f"{key} not found.")
        parsed: Obj = json.loads(body)
        return parsed

    def list(self, scope: Scope) -> ListResult:
        sql = "SELECT body FROM objects WHERE grp = ? AND kind = ?"
        args: tuple[str, ...] = (scope.group, scope.kind)
        if scope.namespace is not None:
            sql, args = sql + " AND namespace = ?", (*args, scope.namespace)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY namespace, name", args).fetchall()
            version = self._counter("rv")
        return ListResult(items=[json.loads(r[0]) for r in rows], resource_version=version)

    def resource_version(self) -> int:
        with self._lock:
            return self._counter("rv")

    # -- writes ------------------------------------------------------------------------------

    def create(self, obj: Obj) -> Obj:
        key = Key.of(obj)
        with self._lock, self._transaction():
            if self._body(key) is not None:
                raise AlreadyExists(f"{key} already exists.")
            version = self._bump()
            new = objects.stamped_new(obj, resource_version=version)
            self._write(key, new, version=version, type_=EventType.ADDED)
        return new

    def replace(self, obj: Obj) -> Obj:
        return self._update(obj, objects.replaced)

    def update_status(self, obj: Obj) -> Obj:
        return self._update(obj, objects.with_status)

    def delete(self, key: Key, *, resource_version: int | None = None) -> Obj:
        with self._lock, self._transaction():
            current = self._current(key)
            stored = int(current["metadata"]["resourceVersion"])
            objects.check_version(key, stored=stored, requested=resource_version)
            version = self._bump()
            self._db.execute(f"DELETE FROM objects WHERE {_KEY_WHERE}", _key_args(key))
            gone = objects.set_version(current, version)
            self._write(key, gone, version=version, type_=EventType.DELETED)
        return gone

    def _update(self, obj: Obj, change: objects.Change) -> Obj:
        key = Key.of(obj)
        requested = objects.requested_version(obj)
        with self._lock, self._transaction():
            current = self._current(key)
            stored = int(current["metadata"]["resourceVersion"])
            objects.check_version(key, stored=stored, requested=requested)
            new = change(current, obj)
            if new is None:  # a no-op write keeps its resourceVersion, as Kubernetes does
                return current
            version = self._bump()
            objects.set_version(new, version)
            self._write(key, new, version=version, type_=EventType.MODIFIED)
        return new

    # -- watch -------------------------------------------------------------------------------

    def watch(self, scope: Scope, *, since: int | None = None) -> Feed:
        feed = Feed(scope)
        with self._lock:
            # Replay and registration happen under the write lock, so no event falls between.
            for event in self._replay(scope, since):
                feed.push(event)
            self._feeds.append(feed)
        return feed

    def _replay(self, scope: Scope, since: int | None) -> Iterator[WatchEvent]:
        if since is None:
            for item in self.list(scope).items:
                version = int(item["metadata"]["resourceVersion"])
                yield WatchEvent(EventType.ADDED, version, Key.of(item), _dumps(item))
            return
        current = self._counter("rv")
        if since > current:
            # Nothing would ever be replayed and the wait could be endless; a client that holds
            # such a version talks to another store (or a reset one) and must list again.
            raise ResourceVersionTooLarge(
                f"Too large resource version: {since}, current: {current}; "
                "list again and watch from the list's resourceVersion."
            )
        compacted = self._counter("compacted")
        if since < compacted:
            raise Gone(
                f"resourceVersion {since} is older than the kept history (from {compacted}); "
                "list again and watch from the list's resourceVersion."
            )
        rows = self._db.execute(
            "SELECT rv, type, grp, kind, namespace, name, body FROM events"
            " WHERE rv > ? AND grp = ? AND kind = ? ORDER BY rv",
            (since, scope.group, scope.kind),
        )
        for rv, type_, grp, kind, namespace, name, body in rows.fetchall():
            yield WatchEvent(EventType(type_), rv, Key(grp, kind, namespace, name), body)

    def close_watches(self) -> None:
        """End every open watch (shutdown: streaming clients see their stream finish)."""
        with self._lock:
            feeds, self._feeds = self._feeds, []
        for feed in feeds:
            feed.close()

    def close(self) -> None:
        self.close_watches()
        with self._lock:
            self._db.close()

    # -- internals ---------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        self._published = []
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        # Publish only what committed, still under the lock, so feeds see store order.
        self._feeds = [f for f in self._feeds if not f.closed]
        for event in self._published:
            for feed in self._feeds:
                feed.push(event)

    def _body(self, key: Key) -> str | None:
        row = self._db.execute(f"SELECT body FROM objects WHERE {_KEY_WHERE}", _key_args(key))
        found = row.fetchone()
        return None if found is None else str(found[0])

    def _current(self, key: Key) -> Obj:
        body = self._body(key)
        if body is None:
            raise NotFound(f"{key} not found.")
        parsed: Obj = json.loads(body)
        return parsed

    def _counter(self, name: str) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0])

    def _bump(self) -> int:
        row = self._db.execute(
            "UPDATE counters SET value = value + 1 WHERE name = 'rv' RETURNING value"
        ).fetchone()
        return int(row[0])

    def _write(self, key: Key, obj: Obj, *, version: int, type_: EventType) -> None:
        body = _dumps(obj)
        if type_ is not EventType.DELETED:
            self._db.execute(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?)",
                (*_key_args(key), version, body),
            )
        self._db.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
            (version, type_.value, *_key_args(key), body),
        )
        self._published.append(WatchEvent(type_, version, key, body))
        if version % self._compact_every == 0:
            self._compact(version)

    def _compact(self, version: int) -> None:
        floor = version - self._retention
        if floor > 0:
            self._db.execute("DELETE FROM events WHERE rv <= ?", (floor,))
            self._db.execute("UPDATE counters SET value = ? WHERE name = 'compacted'", (floor,))
