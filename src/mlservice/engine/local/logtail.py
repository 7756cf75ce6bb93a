"""Container logs: their end (the crash message, "address in use" detection) and rotation."""

from __future__ import annotations

import re
from pathlib import Path

_WINDOW = 16 * 1024
_ADDRESS_IN_USE = re.compile(
    r"address already in use|address in use|EADDRINUSE|errno 98\b|\[errno 98\]", re.IGNORECASE
)


def size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def rotated(path: Path) -> Path:
    """Where `rotate_if_large` keeps the previous generation of `path`."""
    return path.with_name(path.name + ".1")


def rotate_if_large(path: Path, limit: int) -> bool:
    """Keep one previous generation (`<name>.log.1`) once a log passes `limit` bytes; whether
    it did."""
    if size(path) > limit:
        path.replace(rotated(path))
        return True
    return False


def tail(path: Path, *, since: int = 0, lines: int = 20) -> str:
    """The last `lines` lines written at or after byte offset `since`."""
    try:
        with open(path, "rb") as log:
            start = max(since, log.seek(0, 2) - _WINDOW)
            log.seek(start)
            data = log.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def says_address_in_use(text: str) -> bool:
    return _ADDRESS_IN_USE.search(text) is not None
