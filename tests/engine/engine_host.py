"""An engine in its own process, for the orphan tests: `python -m tests.engine.engine_host HOME N`
from the repository root.

Starts N replicas of a program that forks a grandchild, prints one JSON line with the replica
and grandchild pids once all are up, then waits to be killed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from mlservice.engine.local import LocalEngine, LocalEngineConfig
from mlservice.home import Home
from tests.engine.engine_helpers import forker_revision, grandchild_of


async def main(home: str, count: int) -> None:
    engine = LocalEngine(LocalEngineConfig(home=Home(Path(home)), probe_period=0.05))
    await engine.ensure(forker_revision(), count)
    while True:
        states = await engine.replicas()
        grandchildren = [grandchild_of(s.logs["user-container"]) for s in states]
        if all(s.pid for s in states) and all(grandchildren):
            break
        await asyncio.sleep(0.05)
    print(json.dumps({"replicas": [s.pid for s in states], "grandchildren": grandchildren}))
    sys.stdout.flush()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
