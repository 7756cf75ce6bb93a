"""Everything `mls up` needs from its gateway: the child process, the route sink, the signals.

    link = GatewayLink(home=home, port=config.gateway_port)   # binds the ports now
    controllers.sinks.append(link.sink)                          # snapshots flow to the gateway
    unsubscribe = link.subscribe(on_signal)                      # the autoscaler's input
    await link.start(); ...; await link.close()

Signals (`LoadReport` each second, `Activation` at once) are read from the gateway's admin
stream and handed to every subscriber in order; a subscriber must not block.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from mlservice.gateway.client import GatewayClient
from mlservice.gateway.process import GatewayProcess
from mlservice.gateway.signals import Signal
from mlservice.home import Home

log = logging.getLogger("mlservice.gateway")
SignalListener = Callable[[Signal], None]


class SignalPump:
    """The gateway's signals, read from its admin stream and handed to every subscriber."""

    def __init__(self, client: GatewayClient) -> None:
        self.client = client
        self._listeners: list[SignalListener] = []
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, listener: SignalListener) -> Callable[[], None]:
        """Call `listener` with every signal; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._forward(), name="gateway signals")

    async def _forward(self) -> None:
        async for signal in self.client.signals():
            for listener in list(self._listeners):
                try:
                    listener(signal)
                except Exception:  # one broken listener must not cut the others off
                    log.exception("gateway signal listener %r failed", listener)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class GatewayLink:
    def __init__(self, *, home: Home, port: int, token: str, args: Sequence[str] = ()) -> None:
        self.process = GatewayProcess(
            port=port,
            token_file=home.token,
            request_logs=home.request_logs,
            log_file=home.root / "logs" / "gateway.log",
            args=args,
        )
        self.sink = GatewayClient(self.process.admin_url, token=token)
        """A `RouteSink`: `await sink.push(snapshot)`."""
        self.process.on_restart = self.sink.resync  # a restarted gateway starts empty
        self._pump = SignalPump(self.sink)

    @property
    def url(self) -> str:
        """Where clients send requests, `http://127.0.0.1:PORT`."""
        return self.process.url

    @property
    def port(self) -> int:
        return int(self.process.proxy.getsockname()[1])

    def subscribe(self, listener: SignalListener) -> Callable[[], None]:
        """Call `listener` with every signal; returns the unsubscribe function."""
        return self._pump.subscribe(listener)

    async def start(self) -> None:
        await self.process.start()
        self._pump.start()

    async def close(self) -> None:
        await self._pump.close()
        await self.process.stop()
        await self.sink.aclose()
