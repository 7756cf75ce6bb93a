"""Loopback ports for replicas: handed out from a range, bind-tested, quarantined after use.

A freed port is held back for `quarantine` seconds so a client or the gateway that still
holds the old address does not reach a different replica that got the port next.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable

from mlservice.errors import InvalidInput, Unavailable

DEFAULT_RANGE = (20000, 29999)


def is_free(port: int) -> bool:
    """Whether nothing listens on (or holds) `port`: binding the wildcard address conflicts
    with any IPv4 listener on that port, loopback or not."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


class PortPool:
    def __init__(
        self,
        port_range: tuple[int, int] = DEFAULT_RANGE,
        *,
        quarantine: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        low, high = port_range
        if not 1024 <= low <= high <= 65535:
            raise InvalidInput(f"port range {low}-{high} must lie within 1024-65535, low to high.")
        self.low, self.high = low, high
        self.quarantine = quarantine
        self._clock = clock
        self._in_use: set[int] = set()
        self._freed_at: dict[int, float] = {}
        # Engines sharing a machine start at different places, so they rarely race for a port.
        self._next = random.randint(low, high)

    @property
    def in_use(self) -> frozenset[int]:
        return frozenset(self._in_use)

    def acquire(self) -> int:
        size = self.high - self.low + 1
        for _ in range(size):
            port = self._next
            self._next = self.low if port == self.high else port + 1
            if self._available(port) and is_free(port):
                self._in_use.add(port)
                return port
        raise Unavailable(f"port range {self.low}-{self.high} has no free port left.")

    def claim(self, port: int) -> bool:
        """Take a fixed port (a container's own `containerPort`) if nobody holds it."""
        if port in self._in_use or not is_free(port):
            return False
        self._in_use.add(port)
        return True

    def adopt(self, port: int) -> None:
        """Mark a port in use that a running (adopted) replica already listens on."""
        self._in_use.add(port)
        self._freed_at.pop(port, None)

    def release(self, port: int) -> None:
        if port in self._in_use:
            self._in_use.discard(port)
            self._freed_at[port] = self._clock()

    def _available(self, port: int) -> bool:
        if port in self._in_use:
            return False
        freed = self._freed_at.get(port)
        if freed is None:
            return True
        if self._clock() - freed >= self.quarantine:
            del self._freed_at[port]
            return True
        return False
