"""Turning a Host header into a routing key.

Routes are named by `mlservice.naming.Hosts` (lower-case); the gateway looks a request up by
`route_key(host header)`: lower-case, without port or trailing dot, as DNS compares.
"""

from __future__ import annotations


def route_key(raw: bytes) -> str:
    """`Iris.Default.localhost:8080` -> `iris.default.localhost`; `[::1]:80` -> `[::1]`."""
    text = raw.decode("latin-1").strip().lower()
    if text.startswith("["):
        end = text.find("]")
        text = text[: end + 1] if end > 0 else text
    else:
        text = text.partition(":")[0]
    return text.rstrip(".")


class HostKeys:
    """`route_key` with a bounded memo: the same few Host headers arrive over and over."""

    def __init__(self, limit: int = 4096) -> None:
        self._known: dict[bytes, str] = {}
        self._limit = limit

    def __call__(self, raw: bytes) -> str:
        key = self._known.get(raw)
        if key is None:
            key = route_key(raw)
            if len(self._known) >= self._limit:
                self._known.clear()  # a flood of distinct hosts must not grow memory
            self._known[raw] = key
        return key
