"""Memory as the repository counts it: byte sizes with units, a model's charge, the process RSS.

A model is charged what its settings declare (`memory`), else the size of its folder on disk.
The RSS delta across a load is measured too, but only logged and exported: it cannot be the
budget's unit, because the first model of a format also pays for importing its library
(scikit-learn: ~30 MB) and a model loaded again after an unload reuses memory the allocator
kept, so its delta is near zero.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
from pathlib import Path

from mlservice.errors import InvalidInput

_UNITS: dict[str, int] = {
    "": 1,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
    "ki": 2**10,
    "mi": 2**20,
    "gi": 2**30,
    "ti": 2**40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?\s*$", re.IGNORECASE)
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def parse_bytes(text: str | int, *, field: str) -> int:
    """`512Mi`, `1G`, `300MB`, `2GiB`, `1048576`: a byte count (k/M/G/T are powers of ten)."""
    match = _SIZE.match(str(text))
    if match is None:
        raise InvalidInput(f"{field} {text!r} is not a size in bytes (e.g. 512Mi, 1G, 300MB).")
    number, unit = match.groups()
    value = int(float(number) * _UNITS[(unit or "").lower()])
    if value <= 0:
        raise InvalidInput(f"{field} {text!r} must be more than 0 bytes.")
    return value


def folder_bytes(path: Path) -> int:
    """Bytes of the files under `path` (links not followed)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # gone while walking
    return total


def rss_bytes() -> int:
    """This process's resident set size, 0 where /proc is missing."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def release_freed_memory() -> None:
    """Hand memory freed by an unload back to the OS (glibc keeps it in its arenas otherwise)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)


def human(size: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
