"""`pods/{name}/log`: a container's output, read from the log span the engine reports (one
run of the container: the current one, or with `previous` the one before)."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from mlservice.engine.base import LogSpan

FOLLOW_PERIOD = 0.2
_CHUNK = 64 * 1024


def read_span(span: LogSpan, *, tail_lines: int | None, limit_bytes: int | None) -> bytes:
    """The span's bytes (its last `tail_lines` lines), at most `limit_bytes`; nothing for a
    file not written yet."""
    try:
        with span.path.open("rb") as file:
            file.seek(span.start)
            size = None if span.end is None else max(0, span.end - span.start)
            data = file.read() if size is None else file.read(size)
    except FileNotFoundError:
        return b""
    if tail_lines is not None:
        data = b"".join(collections.deque(data.splitlines(keepends=True), maxlen=tail_lines))
    return data[:limit_bytes] if limit_bytes is not None else data


async def follow(
    path: Path, *, offset: int, alive: Callable[[], Awaitable[bool]]
) -> AsyncIterator[bytes]:
    """What is appended to `path` from `offset` on, until `alive()` says the container is gone
    (the client leaving ends the response too); a rotated or recreated file from its start."""
    while True:
        size = await asyncio.to_thread(_size, path)
        if size < offset:
            offset = 0
        while size > offset:
            chunk = await asyncio.to_thread(_read, path, offset, min(size - offset, _CHUNK))
            if not chunk:
                break
            offset += len(chunk)
            yield chunk
        if not await alive():
            return
        await asyncio.sleep(FOLLOW_PERIOD)


def end_of(path: Path) -> int:
    return _size(path)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read(path: Path, offset: int, count: int) -> bytes:
    try:
        with path.open("rb") as file:
            file.seek(offset)
            return file.read(count)
    except FileNotFoundError:
        return b""
