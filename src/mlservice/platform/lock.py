"""One platform per data dir: two would both write `state.db` and fight over ports."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from mlservice.errors import InvalidInput
from mlservice.home import Home

_held: dict[Path, int] = {}  # data dirs this process has locked, and how deeply


@contextlib.contextmanager
def exclusive_home(home: Home) -> Iterator[None]:
    """One platform per data dir: two would both write `state.db` and fight over ports.

    Re-entrant within a process, so the demo can hold the lock while it trains into a volume
    and then run a `Platform`, which takes it again."""
    root = home.root.resolve()
    if root in _held:
        _held[root] += 1
        try:
            yield
        finally:
            _held[root] -= 1
        return
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "up.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InvalidInput(
                f"Another `mls up` is already running with data dir {home.root}."
            ) from None
        _held[root] = 1
        try:
            yield
        finally:
            del _held[root]
