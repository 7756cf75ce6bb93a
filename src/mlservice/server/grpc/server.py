"""The grpc.aio server of `mls serve --grpc-port`, run on uvicorn's loop beside REST."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc

from mlservice.errors import Unavailable
from mlservice.server.config import ServerConfig
from mlservice.server.dataplane import DataPlane
from mlservice.server.grpc.generated import inference_pb2_grpc
from mlservice.server.grpc.servicer import InferenceServicer

log = logging.getLogger("mlservice.server")


@dataclass(frozen=True, slots=True)
class GrpcSettings:
    host: str
    """Loopback by default, like REST."""
    port: int
    """0 picks a free port; the log line says which."""
    max_message_bytes: int
    """Largest request or response message; `--max-body-bytes` unless set apart."""
    reuse_port: bool = False
    """Only `--workers` shares the port; a single server must fail when the port is taken."""
    release: str | None = None
    """Sent as `x-mls-release` trailing metadata, unless a predictor's answer carries one."""
    grace_seconds: float = 5.0
    """How long calls in flight may finish once the server stops."""

    @classmethod
    def from_config(cls, config: ServerConfig) -> GrpcSettings:
        return cls(
            host=config.host,
            port=config.grpc_port or 0,
            max_message_bytes=config.max_body_bytes,
            reuse_port=config.reuse_port,
            release=config.release,
        )

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@contextlib.asynccontextmanager
async def serve_grpc(dataplane: DataPlane, settings: GrpcSettings) -> AsyncIterator[int]:
    """Serve V2 gRPC while the context is open; yields the port bound."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.so_reuseport", int(settings.reuse_port)),
        ]
    )
    servicer = InferenceServicer(dataplane, release=settings.release)
    register: Any = inference_pb2_grpc.add_GRPCInferenceServiceServicer_to_server  # untyped
    register(servicer, server)
    port = _bind(server, settings.address)
    await server.start()
    log.info("mls serve: V2 gRPC on %s:%d", settings.host, port)
    try:
        yield port
    finally:
        await server.stop(settings.grace_seconds)


def _bind(server: grpc.aio.Server, address: str) -> int:
    # grpcio raises a RuntimeError that only points at its debug log; older ones returned 0.
    try:
        port = int(server.add_insecure_port(address))
    except RuntimeError:
        port = 0
    if port == 0:
        raise Unavailable(
            f"Cannot listen for gRPC on {address}: the port is in use or the host is not "
            "an address of this machine."
        )
    return port
