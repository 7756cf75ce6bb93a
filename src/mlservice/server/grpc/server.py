"""The V2 gRPC server of `mls serve --grpc-port`, beside REST: grpc's thread-pool server, whose
handlers reach the data plane on uvicorn's loop or the inference thread (`handlers.py` says why
not grpc.aio)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc

from mlservice.errors import Unavailable
from mlservice.server.config import ServerConfig
from mlservice.server.dataplane import DataPlane
from mlservice.server.grpc.generated import inference_pb2_grpc
from mlservice.server.grpc.handlers import BlockingServicer
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
    max_connection_age: float = 300.0
    """Seconds before a connection is asked to go away (GOAWAY; clients reconnect on their own).
    gRPC has no per-stream read timeout: this is what bounds a stream whose message stops
    short, and grpc jitters it by 10% so clients do not reconnect in step."""
    max_connection_age_grace: float = 60.0
    """How long calls in flight may finish on a connection past its age before it is closed."""
    max_connection_idle: float = 300.0
    """A connection without calls for this long is closed."""
    keepalive_time: float = 60.0
    """Ping a quiet connection this often; a peer that does not answer within
    `keepalive_timeout` is gone (a dead client does not keep its connection)."""
    keepalive_timeout: float = 20.0
    handler_threads: int = 32
    """Calls handled at once; more wait in grpc's queue. Calls waiting for a batch each hold
    one, so this bounds how many gRPC requests one batch can gather."""

    @classmethod
    def from_config(cls, config: ServerConfig) -> GrpcSettings:
        return cls(
            host=config.host,
            port=config.grpc_port or 0,
            max_message_bytes=config.max_body_bytes,
            reuse_port=config.reuse_port,
            release=config.release,
            handler_threads=max(32, min(config.max_batch_size, 1024)),
        )

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@contextlib.asynccontextmanager
async def serve_grpc(dataplane: DataPlane, settings: GrpcSettings) -> AsyncIterator[int]:
    """Serve V2 gRPC while the context is open; yields the port bound."""
    pool = ThreadPoolExecutor(settings.handler_threads, thread_name_prefix="mls-grpc")
    server = grpc.server(pool, options=_options(settings))
    servicer = InferenceServicer(dataplane, release=settings.release)
    register: Any = inference_pb2_grpc.add_GRPCInferenceServiceServicer_to_server  # untyped
    register(BlockingServicer(servicer, asyncio.get_running_loop()), server)
    try:
        port = _bind(server, settings.address)
    except Unavailable:
        pool.shutdown(wait=False)
        raise
    server.start()
    log.info("mls serve: V2 gRPC on %s:%d", settings.host, port)
    try:
        yield port
    finally:
        # Off the loop: calls finishing in the grace period may still need it.
        stopped = server.stop(settings.grace_seconds)
        await asyncio.to_thread(stopped.wait)
        pool.shutdown(wait=False)


def _options(settings: GrpcSettings) -> list[tuple[str, int]]:
    def ms(seconds: float) -> int:
        return int(seconds * 1000)

    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.so_reuseport", int(settings.reuse_port)),
        ("grpc.max_connection_age_ms", ms(settings.max_connection_age)),
        ("grpc.max_connection_age_grace_ms", ms(settings.max_connection_age_grace)),
        ("grpc.max_connection_idle_ms", ms(settings.max_connection_idle)),
        ("grpc.keepalive_time_ms", ms(settings.keepalive_time)),
        ("grpc.keepalive_timeout_ms", ms(settings.keepalive_timeout)),
    ]


def _bind(server: grpc.Server, address: str) -> int:
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
