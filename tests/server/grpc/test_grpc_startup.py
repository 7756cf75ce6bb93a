"""A gRPC port that cannot be bound fails `mls serve` at startup, with a message saying which."""

from __future__ import annotations

import socket

import pytest

from tests.server.server_procs import MODELS
from tests.support.cli import mls

pytestmark = pytest.mark.e2e


def test_taken_grpc_port_fails_the_server() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        args = ["serve", str(MODELS / "echo"), "--name", "echo", "--port", "0"]
        done = mls(*args, "--grpc-port", str(port), timeout=90)
    assert done.returncode != 0
    assert f"Cannot listen for gRPC on 127.0.0.1:{port}: the port is in use" in done.stderr
