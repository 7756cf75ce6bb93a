"""`python -m mlservice.gateway`: the gateway process that `mls up` runs as its child.

    python -m mlservice.gateway --token-file TOKEN [--port 8080 | --listen-fd N]
        [--grpc-port P | --grpc-fd N] [--admin-port 0 | --admin-fd N] [--request-logs DIR]
        [--routes-file PATH] [--parent-pid PID] ...

`mls up` binds both sockets itself and passes them as descriptors, so a restarted gateway
takes over the same ports with no gap; standalone runs bind `--port`/`--admin-port` (0 picks
a free one; the log line says which). The last accepted routing snapshot is kept in
`--routes-file`, by default `gateway/routes.json` beside the token file (`mls up` keeps the
token in its data dir, so `$MLS_HOME/gateway/routes.json`), and served from at start if
the same run of `--parent-pid` saved it.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import signal
import socket
import sys
from pathlib import Path

import uvloop

from mlservice.gateway.app import serve
from mlservice.gateway.config import GatewayConfig
from mlservice.gateway.routesfile import run_of
from mlservice.gateway.sockets import bind_loopback

PR_SET_PDEATHSIG = 1


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m mlservice.gateway", description=__doc__)
    p.add_argument("--token-file", type=Path, required=True, help="API bearer token file")
    p.add_argument("--port", type=int, default=8080, help="proxy port on 127.0.0.1")
    p.add_argument("--listen-fd", type=int, help="an inherited listening socket for the proxy")
    p.add_argument("--grpc-port", type=int, help="gRPC (h2c) port on 127.0.0.1 (none if unset)")
    p.add_argument("--grpc-fd", type=int, help="an inherited listening socket for gRPC")
    p.add_argument("--admin-port", type=int, default=0, help="admin port on 127.0.0.1")
    p.add_argument("--admin-fd", type=int, help="an inherited listening socket for admin")
    p.add_argument("--request-logs", type=Path, help="local request log folder")
    p.add_argument(
        "--routes-file", type=Path, help="saved routing snapshot (default: beside the token)"
    )
    p.add_argument("--parent-pid", type=int, help="exit with this process (PR_SET_PDEATHSIG)")
    defaults = GatewayConfig()
    p.add_argument("--activation-timeout", type=float, default=defaults.activation_timeout)
    p.add_argument("--queue-limit", type=int, default=defaults.queue_limit)
    p.add_argument("--logger-queue", type=int, default=defaults.logger_queue_events)
    p.add_argument("--header-timeout", type=float, default=defaults.header_timeout)
    p.add_argument("--body-timeout", type=float, default=defaults.body_timeout)
    return p.parse_args(argv)


def die_with_parent(parent: int) -> None:
    """SIGTERM when `parent` dies, even by SIGKILL: a gateway never outlives `mls up`."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        sys.exit(1)  # the parent died before the signal was armed


def _socket(fd: int | None, port: int, *, what: str) -> socket.socket:
    if fd is None:
        return bind_loopback(port, what=what)
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    return sock


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    if args.parent_pid is not None:
        die_with_parent(args.parent_pid)
    config = GatewayConfig(
        request_logs=args.request_logs,
        routes_file=args.routes_file or args.token_file.parent / "gateway" / "routes.json",
        routes_owner=run_of(args.parent_pid),
        activation_timeout=args.activation_timeout,
        queue_limit=args.queue_limit,
        logger_queue_events=args.logger_queue,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
    )
    token = args.token_file.read_text().strip()
    proxy = _socket(args.listen_fd, args.port, what="gateway")
    admin = _socket(args.admin_fd, args.admin_port, what="gateway admin")
    grpc = None
    if args.grpc_fd is not None or args.grpc_port is not None:
        grpc = _socket(args.grpc_fd, args.grpc_port or 0, what="gateway gRPC")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(config, proxy=proxy, admin=admin, token=token, grpc=grpc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
