"""`python -m tests.server.grpc.stall_server AGE GRACE [IDLE]`: the V2 gRPC server alone, with a
short connection age (and idle time), for the connection-limit tests (`mls serve` cannot set
them).

Runs in its own process: our stubs and tritonclient's must not meet in the test process.
"""

from __future__ import annotations

import asyncio
import sys

from mlservice.server.dataplane import DataPlane
from mlservice.server.grpc.server import GrpcSettings, serve_grpc


async def main(age: float, grace: float, idle: float) -> None:
    settings = GrpcSettings(
        host="127.0.0.1",
        port=0,
        max_message_bytes=1 << 20,
        max_connection_age=age,
        max_connection_age_grace=grace,
        max_connection_idle=idle,
    )
    async with serve_grpc(DataPlane(), settings) as port:
        print(f"port {port}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    idle = float(sys.argv[3]) if len(sys.argv) > 3 else 300.0
    asyncio.run(main(float(sys.argv[1]), float(sys.argv[2]), idle))
