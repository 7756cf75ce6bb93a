"""`python -m tests.server.grpc.stall_server AGE GRACE`: the V2 gRPC server alone, with a short
connection age, for the stalled-stream test (which cannot set it through `mls serve`).

Runs in its own process: our stubs and tritonclient's must not meet in the test process.
"""

from __future__ import annotations

import asyncio
import sys

from mlservice.server.dataplane import DataPlane
from mlservice.server.grpc.server import GrpcSettings, serve_grpc


async def main(age: float, grace: float) -> None:
    settings = GrpcSettings(
        host="127.0.0.1",
        port=0,
        max_message_bytes=1 << 20,
        max_connection_age=age,
        max_connection_age_grace=grace,
    )
    async with serve_grpc(DataPlane(), settings) as port:
        print(f"port {port}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]), float(sys.argv[2])))
