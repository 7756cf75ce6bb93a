"""Loopback listening sockets, bound by whoever needs to know the port first."""

from __future__ import annotations

import errno
import socket

from mlservice.errors import InvalidInput

HOST = "127.0.0.1"


def bind_loopback(port: int, *, what: str, backlog: int = 1024) -> socket.socket:
    """A listening socket on 127.0.0.1:`port` (0: a free one), or a clear error if taken."""
    return bind_tcp(HOST, port, what=what, backlog=backlog)


def bind_tcp(host: str, port: int, *, what: str, backlog: int = 1024) -> socket.socket:
    """A listening IPv4 socket on `host`:`port` (`mls agent` takes the pod's `0.0.0.0`)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise InvalidInput(
                f"The {what} port {port} on {host} is already in use; choose another "
                "(0 picks a free one)."
            ) from None
        if err.errno == errno.EADDRNOTAVAIL:
            raise InvalidInput(f"The {what} address {host} is not one of this host's.") from None
        raise
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"
