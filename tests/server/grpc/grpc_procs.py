"""Reaching the gRPC side of a real `mls serve`: its address from the log, clients for it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2_grpc

from tests.server.server_procs import Served
from tests.support.polling import wait_until

GRPC_ADDRESS = re.compile(r"V2 gRPC on 127\.0\.0\.1:(\d+)")


@dataclass
class GrpcServed:
    """A server with both protocols: `rest.url` for REST, `target` (host:port) for gRPC."""

    rest: Served
    target: str
    model: str

    def client(self) -> triton.InferenceServerClient:
        return triton.InferenceServerClient(self.target)

    @contextmanager
    def stub(self) -> Iterator[Any]:
        """A plain generated stub (tritonclient's copy of the service) for hand-built messages."""
        with grpc.insecure_channel(self.target) as channel:
            yield service_pb2_grpc.GRPCInferenceServiceStub(channel)

    def metrics(self) -> str:
        return httpx.get(f"{self.rest.url}/metrics", timeout=10).text


def grpc_target(served: Served, timeout: float = 30.0) -> str:
    """host:port from the server's log line; it is written before the server reports ready."""

    def reported() -> str | None:
        match = GRPC_ADDRESS.search(served.log_text())
        return f"127.0.0.1:{match.group(1)}" if match else None

    return wait_until(
        reported,
        timeout=timeout,
        message=lambda: f"mls serve to report a gRPC address:\n{served.log_text()}",
    )
