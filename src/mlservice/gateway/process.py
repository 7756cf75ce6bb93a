"""The gateway as a child of `mls up`: bound here, run there, restarted if it dies.

`mls up` binds the proxy and admin sockets itself and hands them down, so the ports are known
before the child starts and survive its restarts: connections that arrive while it restarts
wait in the kernel's backlog instead of being refused. The child arms PR_SET_PDEATHSIG, so it
never outlives `mls up`, even when `mls up` is killed; it runs in its own session, so only
`mls up` stops it (a terminal's Ctrl-C is not a crash to restart from).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import httpx

from mlservice.errors import Unavailable
from mlservice.gateway.child import RestartingChild
from mlservice.gateway.sockets import bind_loopback, url_of

log = logging.getLogger("mlservice.gateway")
START_TIMEOUT = 30.0
RESTART_BACKOFF_MAX = 10.0


class GatewayProcess(RestartingChild):
    def __init__(
        self,
        *,
        port: int,
        token_file: Path,
        request_logs: Path,
        log_file: Path,
        args: Sequence[str] = (),
        on_restart: Callable[[], Awaitable[None]] | None = None,
        grpc: socket.socket | None = None,
    ) -> None:
        super().__init__(
            name="gateway", log=log, backoff_max=RESTART_BACKOFF_MAX, on_restart=on_restart
        )
        self.proxy = bind_loopback(port, what="gateway")
        self.grpc = grpc
        """The h2c (gRPC) listener, bound by the caller (which port, if taken, is its policy)."""
        self.admin = bind_loopback(0, what="gateway admin")
        self.token_file = token_file
        self.request_logs = request_logs
        self.log_file = log_file
        self.args = list(args)

    @property
    def url(self) -> str:
        return url_of(self.proxy)

    @property
    def grpc_target(self) -> str | None:
        """`127.0.0.1:PORT`, as gRPC clients take it (a target, not a URL)."""
        if self.grpc is None:
            return None
        host, port = self.grpc.getsockname()[:2]
        return f"{host}:{port}"

    @property
    def admin_url(self) -> str:
        return url_of(self.admin)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def start(self) -> None:
        await self._spawn()
        self._watch_exits()

    async def _spawn(self) -> None:
        fds: tuple[int, ...] = (self.proxy.fileno(), self.admin.fileno())
        argv = [sys.executable, "-m", "mlservice.gateway", "--token-file", str(self.token_file)]
        argv += ["--listen-fd", str(fds[0]), "--admin-fd", str(fds[1])]
        if self.grpc is not None:
            fds += (self.grpc.fileno(),)
            argv += ["--grpc-fd", str(self.grpc.fileno())]
        argv += ["--request-logs", str(self.request_logs), "--parent-pid", str(os.getpid())]
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        out = os.open(self.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            # Forked from the event loop's thread, which lives as long as `mls up`: the child's
            # parent-death signal is tied to the forking thread, not the process. Its own
            # session keeps a terminal's Ctrl-C (sent to the whole foreground group) from
            # stopping it ahead of `mls up`, which stops it last, after the replicas.
            self.proc = await asyncio.create_subprocess_exec(
                *argv, *self.args, pass_fds=fds, stdin=asyncio.subprocess.DEVNULL,
                stdout=out, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        finally:
            os.close(out)
        await self._wait_healthy(self.proc)

    async def _wait_healthy(self, proc: asyncio.subprocess.Process) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(base_url=self.admin_url, timeout=2, trust_env=False) as http:
            while time.monotonic() < deadline:
                if proc.returncode is not None:
                    raise Unavailable(
                        f"The gateway exited with code {proc.returncode} while starting; "
                        f"see {self.log_file}."
                    )
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise Unavailable(
            f"The gateway did not answer within {START_TIMEOUT:g}s; see {self.log_file}."
        )

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM (the request log is flushed), SIGKILL after `grace`; then close the sockets."""
        await self._terminate(grace)
        self.proxy.close()
        self.admin.close()
        if self.grpc is not None:
            self.grpc.close()
