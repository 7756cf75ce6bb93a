"""Pidfiles, and reaping what an engine that died left behind.

Each replica directory names its engine (`owner.json`) and each running container its process
(`<container>.pid`), both as pid + start time. A new engine kills the process groups of
replicas whose engine is gone, so a restarted `mls up` starts from a clean slate even when
pdeathsig could not reach grandchildren.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from mlservice.engine.local import procfs
from mlservice.engine.local.paths import ReplicaDir, all_replica_dirs
from mlservice.home import Home

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessRecord:
    pid: int
    start_time: int

    def is_running(self) -> bool:
        return procfs.is_running(self.pid, self.start_time)


def current_process() -> ProcessRecord:
    started = procfs.start_time(os.getpid())
    assert started is not None, "/proc is not mounted"
    return ProcessRecord(os.getpid(), started)


def write_record(path: Path, record: ProcessRecord) -> None:
    # Write then rename, so a reader never sees half a file.
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(asdict(record)))
    tmp.replace(path)


def read_record(path: Path) -> ProcessRecord | None:
    try:
        data = json.loads(path.read_text())
        return ProcessRecord(pid=int(data["pid"]), start_time=int(data["start_time"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def group_of(record: ProcessRecord) -> list[procfs.ProcStat]:
    """Live processes of the group (and session) `record` leads.

    If the leader's pid now belongs to another process, the group cannot be told apart from
    that process's own, so nothing is returned."""
    leader = procfs.stat(record.pid)
    if leader is not None and leader.start_time != record.start_time:
        return []
    return [
        p
        for p in procfs.group_members(record.pid)
        if p.session == record.pid and p.start_time >= record.start_time
    ]


def kill_group(record: ProcessRecord) -> list[int]:
    killed = []
    for member in group_of(record):
        try:
            os.kill(member.pid, signal.SIGKILL)
            killed.append(member.pid)
        except ProcessLookupError:
            pass
    return killed


def reap_leftovers(home: Home, *, timeout: float = 3.0) -> list[int]:
    """Kill replicas of dead engines under `home`, remove their directories; return the pids."""
    me = current_process()
    killed: list[int] = []
    for replica in all_replica_dirs(home):
        owner = read_record(replica.owner)
        if owner is not None and owner != me and owner.is_running():
            continue  # another live engine runs it
        killed += _reap_replica(replica)
    _wait_gone(killed, timeout=timeout)
    return killed


def _reap_replica(replica: ReplicaDir) -> list[int]:
    killed = []
    for pidfile in replica.root.glob("*.pid"):
        record = read_record(pidfile)
        if record is not None:
            killed += kill_group(record)
    if killed:
        log.warning("reaped %d leftover processes of %s", len(killed), replica.root)
    shutil.rmtree(replica.root, ignore_errors=True)
    return killed


def _wait_gone(pids: list[int], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = set(pids)
    while pending and time.monotonic() < deadline:
        pending = {pid for pid in pending if (s := procfs.stat(pid)) is not None and s.alive}
        if pending:
            time.sleep(0.02)
