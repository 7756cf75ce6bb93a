"""The local request log: one CloudEvents JSON object a line, one file a day (UTC).

`$MLS_HOME/logs/requests/mlservice-YYYY.MM.DD.jsonl`, named like the reference's
Elasticsearch indices (`mlservice-<date>`). Writers append whole lines in one `write`, so a
reader following the file never sees half an event.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from mlservice.gateway.reqlog.events import LogEvent, to_json

PREFIX = "mlservice-"
SUFFIX = ".jsonl"


def file_for(folder: Path, day: datetime.date) -> Path:
    return folder / f"{PREFIX}{day:%Y.%m.%d}{SUFFIX}"


def append(folder: Path, events: list[LogEvent]) -> None:
    """Append `events` to today's file (blocking: run it off the event loop)."""
    if not events:
        return
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    lines = b"".join(orjson.dumps(to_json(e)) + b"\n" for e in events)
    path = file_for(folder, datetime.datetime.now(datetime.UTC).date())
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        view = memoryview(lines)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def log_files(folder: Path) -> list[Path]:
    """The day files, oldest first (their names sort by date)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(PREFIX) and p.suffix == SUFFIX)


def read_events(folder: Path) -> Iterator[dict[str, Any]]:
    """Every event in the folder, oldest first; an unparsable line is skipped."""
    for path in log_files(folder):
        with path.open("rb") as lines:
            for line in lines:
                doc = _parse(line)
                if doc is not None:
                    yield doc


def follow(
    folder: Path, *, poll: float = 0.25, stop: float | None = None
) -> Iterator[dict[str, Any]]:
    """Events appended after this call, across day files, until `stop` (monotonic) if given."""
    offsets = {p: p.stat().st_size for p in log_files(folder)}  # now, not at the first next()
    return _tail(folder, offsets, poll=poll, stop=stop)


def _tail(
    folder: Path, offsets: dict[Path, int], *, poll: float, stop: float | None
) -> Iterator[dict[str, Any]]:
    while stop is None or time.monotonic() < stop:
        grew = False
        for path in log_files(folder):
            with path.open("rb") as lines:
                lines.seek(offsets.get(path, 0))
                for line in lines:
                    if not line.endswith(b"\n"):
                        break  # a line still being written: read it next time
                    offsets[path] = offsets.get(path, 0) + len(line)
                    grew = True
                    doc = _parse(line)
                    if doc is not None:
                        yield doc
        if not grew:
            time.sleep(poll)


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None
