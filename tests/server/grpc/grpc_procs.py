"""Reaching the gRPC side of a real `mls serve`: its address from the log, clients for it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import tritonclient.grpc as triton
from server_procs import Served
from tritonclient.grpc import service_pb2_grpc

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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = GRPC_ADDRESS.search(served.log_text())
        if match:
            return f"127.0.0.1:{match.group(1)}"
        time.sleep(0.05)
    raise TimeoutError(f"mls serve did not report a gRPC address:\n{served.log_text()}")
