"""The control plane's side of the admin channel: pushing snapshots, reading signals.

`GatewayClient.push` is a `RouteSink` (see `controller/routing.py`): the first push sends the
whole snapshot, later ones a delta against what the gateway acknowledged; a 409 (the gateway
restarted, or missed a delta) falls back to the whole snapshot. `signals()` yields the
gateway's load reports and activations, reconnecting when the gateway restarts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from mlservice.errors import Unavailable
from mlservice.gateway.delta import diff
from mlservice.gateway.signals import Signal, signal_from_json
from mlservice.gateway.snapshot import RoutingSnapshot
from mlservice.gateway.wire import dump_delta, dump_snapshot

RETRY_FOR = 10.0  # seconds a push keeps trying while the gateway (re)starts
RECONNECT_MAX = 2.0


class GatewayClient:
    def __init__(self, admin_url: str, *, token: str, retry_for: float = RETRY_FOR) -> None:
        self.admin_url = admin_url
        self.retry_for = retry_for
        self._http = httpx.AsyncClient(
            base_url=admin_url,
            headers={"authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(10.0, read=None),
            trust_env=False,
        )
        self._acked: RoutingSnapshot | None = None
        self._latest: RoutingSnapshot | None = None
        self._lock = asyncio.Lock()
        self.pushes = 0
        self.full_pushes = 0

    async def push(self, snapshot: RoutingSnapshot) -> None:
        """Make the gateway serve `snapshot`; returns once it does (the gateway acknowledged)."""
        async with self._lock:
            self._latest = snapshot
            await self._send(snapshot)

    async def resync(self) -> None:
        """Send the latest snapshot whole: a restarted gateway starts empty."""
        async with self._lock:
            self._acked = None
            if self._latest is not None:
                await self._send(self._latest)

    async def _send(self, snapshot: RoutingSnapshot) -> None:
        self.pushes += 1
        if self._acked is not None:
            delta = diff(self._acked, snapshot)
            answer = await self._request("PATCH", dump_delta(delta))
            if answer.status_code == 200:
                self._acked = snapshot
                return
            if answer.status_code != 409:
                raise _refused(answer)
        self.full_pushes += 1
        answer = await self._request("PUT", dump_snapshot(snapshot))
        if answer.status_code != 200:
            raise _refused(answer)
        self._acked = snapshot

    async def _request(self, method: str, body: bytes) -> httpx.Response:
        deadline = time.monotonic() + self.retry_for
        delay = 0.05
        while True:
            try:
                return await self._http.request(method, "/admin/routes", content=body)
            except httpx.TransportError as exc:
                if time.monotonic() + delay > deadline:
                    raise Unavailable(
                        f"The gateway admin channel {self.admin_url} is unreachable: {exc}."
                    ) from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def snapshot(self) -> dict[str, Any]:
        answer = await self._http.get("/admin/routes")
        answer.raise_for_status()
        doc: dict[str, Any] = answer.json()
        return doc

    async def signals(self) -> AsyncIterator[Signal]:
        """Load reports and activations, forever; reconnects (with backoff) when cut off."""
        delay = 0.05
        while True:
            try:
                async with self._http.stream("GET", "/admin/signals") as answer:
                    answer.raise_for_status()
                    async for line in answer.aiter_lines():
                        delay = 0.05
                        doc = orjson.loads(line) if line.strip() else {}
                        if doc.get("type") in ("load", "activate"):
                            yield signal_from_json(doc)
            except (httpx.TransportError, httpx.HTTPStatusError):
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)

    async def aclose(self) -> None:
        await self._http.aclose()


def _refused(answer: httpx.Response) -> Unavailable:
    try:
        message = answer.json().get("error", answer.text)
    except ValueError:
        message = answer.text
    return Unavailable(f"The gateway refused the routing push ({answer.status_code}): {message}")
