"""A gRPC port that cannot be bound fails `mls serve` at startup, with a message saying which."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from server_procs import MODELS

pytestmark = pytest.mark.e2e


def test_taken_grpc_port_fails_the_server() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        argv = [sys.executable, "-m", "mlservice", "serve", str(MODELS / "echo"), "--name", "echo"]
        argv += ["--port", "0", "--grpc-port", str(port)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode != 0
    assert f"Cannot listen for gRPC on 127.0.0.1:{port}: the port is in use" in done.stderr
