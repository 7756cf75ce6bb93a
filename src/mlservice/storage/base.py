"""The provider seam: what every URI scheme implements, and the log it reports progress to."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

from mlservice.storage.uri import ModelURI

Log = Callable[[str], None]
"""Receives one line of progress or error text (no trailing newline)."""

LogSink = Callable[[str], object] | TextIO | None
"""What callers may hand in: a callable, an open text file (the replica's log) or nothing."""


@dataclass(frozen=True)
class Probe:
    """What a provider learned about a URI before fetching anything."""

    version: str | None
    """Changes whenever the content changes (ETag, mtime and size); None when the source gives
    nothing to compare, in which case the content is fetched afresh every time."""
    file_name: str | None = None
    """The file's name when the URI names one file (an archive is recognized by it); None for a
    directory or an object prefix."""
    local: Path | None = None
    """Set when the URI already names a local file or directory, which is then used in place."""


class Provider(Protocol):
    """One URI scheme. Providers raise `errors.StorageError` subclasses naming the URI."""

    def probe(self, uri: ModelURI) -> Probe:
        """Look the URI up without downloading its content."""
        ...

    def download(self, uri: ModelURI, dest: Path, log: Log) -> Path:
        """Make the content available under the existing, empty directory `dest`, keeping
        relative paths below a prefix; return the file or directory that holds it. A local
        source returns its own path and writes nothing."""
        ...


def as_log(sink: LogSink, *, hide: Iterable[str] = ()) -> Log:
    """A `Log` writing to `sink`, with every string in `hide` masked as a last line of defence."""
    secrets = [s for s in hide if s]

    def write(line: str) -> None:
        for secret in secrets:
            line = line.replace(secret, "***")
        if sink is None:
            return
        if callable(sink):
            sink(line)
            return
        sink.write(line + "\n")
        sink.flush()

    return write


class ProgressLog:
    """Logs a transfer's progress at every quarter (or every 64 MiB when the size is unknown),
    so a large model gives a handful of lines and a small file just one."""

    _UNKNOWN_STEP = 64 * 2**20
    _SMALL = 2**20

    def __init__(self, log: Log, *, label: str, total: int | None) -> None:
        self._log, self._label, self._total = log, label, total
        self._done = 0
        self._next = self._step()
        if total is None or total >= self._SMALL:
            shown = human_size(total) if total is not None else "size unknown"
            log(f"downloading {label} ({shown})")

    def advance(self, n: int) -> None:
        self._done += n
        if self._done < self._next or (self._total is not None and self._done >= self._total):
            return
        share = f" {100 * self._done // self._total}%" if self._total else ""
        self._log(f"  {self._label}:{share} {human_size(self._done)}")
        while self._next <= self._done:
            self._next += self._step()

    def finish(self) -> None:
        self._log(f"downloaded {self._label} ({human_size(self._done)})")

    def _step(self) -> int:
        return max(self._total // 4, 1) if self._total else self._UNKNOWN_STEP


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    units = ("KiB", "MiB", "GiB", "TiB")
    size, unit = n / 1024, 0
    while size >= 1024 and unit < len(units) - 1:
        size, unit = size / 1024, unit + 1
    return f"{size:.1f} {units[unit]}"
