"""Which processes belong to a data dir: `mls up` and every replica it starts carry MLS_HOME
(tests.support.up sets it), so a stray one shows up in /proc."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.polling import wait_until


def processes_of(home: Path) -> list[str]:
    """Live processes whose command line or environment mentions the data dir."""
    needle = str(home).encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if needle in cmdline or needle in environ:
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{proc.name}: {shown}")
    return found


def wait_no_processes(home: Path, timeout: float = 10) -> None:
    """Wait until nothing runs for the data dir; fail listing what still does."""
    wait_until(
        lambda: not processes_of(home),
        timeout=timeout,
        interval=0.1,
        message=lambda: f"no process of {home} left; still running: {processes_of(home)}",
    )
