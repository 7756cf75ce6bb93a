"""The memory watchdog: `limits.memory` enforced on resident memory.

The machine has cgroup v1 and no per-replica cgroups; an address-space rlimit would kill
numpy or JVM runtimes at import (they reserve far more than they touch). So every
`period` seconds the RSS of each limited replica's process group is summed from /proc, and a
group over its limit is killed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mlservice.engine.local import procfs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limited:
    pgid: int
    limit: int  # bytes
    kill: Callable[[int], None]  # called with the group's RSS when over the limit


def group_rss(pgids: Iterable[int]) -> dict[int, int]:
    """Total resident bytes of each process group, in one pass over /proc."""
    wanted = set(pgids)
    totals: dict[int, int] = defaultdict(int)
    for proc in procfs.all_processes():
        if proc.pgrp in wanted:
            totals[proc.pgrp] += procfs.rss_bytes(proc.pid)
    return totals


async def watch(targets: Callable[[], list[Limited]], *, period: float) -> None:
    """Run until cancelled. The /proc scan runs in a thread: it reads a file per process."""
    while True:
        current = targets()
        if current:
            totals = await asyncio.to_thread(group_rss, [t.pgid for t in current])
            for target in current:
                used = totals.get(target.pgid, 0)
                if used > target.limit:
                    log.warning(
                        "process group %d uses %d bytes, over %d", target.pgid, used, target.limit
                    )
                    target.kill(used)
        await asyncio.sleep(period)
