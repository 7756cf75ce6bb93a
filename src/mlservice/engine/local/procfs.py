"""Reading /proc: process identity (pid + start time), process groups and resident memory.

A pid alone is not an identity (pid_max is often 32768 and pids get recycled), so every
record keeps the start time from /proc/<pid>/stat next to the pid.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcStat:
    pid: int
    state: str  # "R", "S", "Z" (zombie), ...
    ppid: int
    pgrp: int
    session: int
    start_time: int  # clock ticks since boot

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")


def stat(pid: int) -> ProcStat | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ")".
    fields = raw[raw.rindex(")") + 2 :].split()
    return ProcStat(
        pid=pid,
        state=fields[0],
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        session=int(fields[3]),
        start_time=int(fields[19]),
    )


def start_time(pid: int) -> int | None:
    found = stat(pid)
    return found.start_time if found else None


def is_running(pid: int, started: int) -> bool:
    """True when `pid` is still the process that started at `started`, and not a zombie."""
    found = stat(pid)
    return found is not None and found.alive and found.start_time == started


def all_processes() -> Iterator[ProcStat]:
    for entry in os.listdir(PROC):
        if entry.isdigit():
            found = stat(int(entry))
            if found is not None and found.alive:
                yield found


def group_members(pgrp: int) -> list[ProcStat]:
    return [p for p in all_processes() if p.pgrp == pgrp]


def rss_bytes(pid: int) -> int:
    """Resident set size; 0 for a process that is gone."""
    try:
        with open(PROC / str(pid) / "status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def environ_value(pid: int, name: str) -> str | None:
    """The value of `name` in the environment `pid` was started with; None if unset or gone."""
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    prefix = name.encode() + b"="
    found = next((item for item in raw.split(b"\0") if item.startswith(prefix)), None)
    return None if found is None else found[len(prefix) :].decode(errors="replace")
