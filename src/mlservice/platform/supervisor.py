"""`mls up` itself: the data-plane supervisor, and the control plane as its child.

    mls up (this process)              binds the API (HTTP, TLS), gateway and admin sockets;
     |                                  forks replicas; writes the kubeconfig
     |- gateway                        python -m mlservice.gateway        (restarted if it dies)
     |- control plane                  python -m mlservice.platform          (restarted if it dies)
     `- replicas                       forked here for the control plane (spawner channel)

Requests only cross the data plane (gateway -> replicas), so the complex half (API, store,
controllers, autoscaler) may crash and restart without one failing: the gateway keeps its last
routing snapshot, the replicas keep running (this process forked them, and only its death ends
them: the shim's parent-death signal), the API's listening socket stays bound here so callers
wait in its backlog, and the restarted control plane adopts the replicas and pushes the gateway
a whole snapshot again. Every child dies with this process, even on SIGKILL (each arms
PR_SET_PDEATHSIG), so nothing is orphaned; each runs in its own session, so a terminal's Ctrl-C
reaches this process alone, which stops them in order: the control plane (it stops every
replica cleanly), then the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from typing import IO, Any

import httpx

from mlservice.api.auth import load_or_create_token
from mlservice.api.pki import Pki, ensure_pki
from mlservice.api.server import bind_loopback, bind_preferred
from mlservice.client import Client
from mlservice.client.manifests import apply_paths
from mlservice.engine.local.channel import SpawnService
from mlservice.engine.local.process import Spawner
from mlservice.errors import Unavailable
from mlservice.gateway.child import RestartingChild
from mlservice.gateway.process import GatewayProcess
from mlservice.home import Home
from mlservice.platform.config import (
    DEFAULT_API_TLS_PORT,
    DEFAULT_GATEWAY_GRPC_PORT,
    PlatformConfig,
    control_plane_args,
)
from mlservice.platform.control import GATEWAY_RESTARTED, ControlPlane, bind_api_tls
from mlservice.platform.kubeconfig import kubeconfig, write_kubeconfig
from mlservice.platform.lock import exclusive_home

log = logging.getLogger("mlservice.platform")
START_TIMEOUT = 60.0
STOP_GRACE = 30.0
RESTART_BACKOFF_MAX = 5.0


class ControlPlaneChild(RestartingChild):
    """The control plane as a child process: started, watched, restarted with backoff."""

    def __init__(
        self,
        config: PlatformConfig,
        *,
        api: socket.socket,
        tls: socket.socket,
        gateway: GatewayProcess,
        service: SpawnService,
    ) -> None:
        super().__init__(name="control plane", log=log, backoff_max=RESTART_BACKOFF_MAX)
        self.config = config
        self.api = api
        self.tls = tls
        self.gateway = gateway
        self.service = service
        self._channel: asyncio.Task[None] | None = None

    @property
    def api_url(self) -> str:
        return _url("http", self.api)

    async def start(self) -> None:
        await self._spawn()
        await self._wait_healthy()
        self._watch_exits()

    async def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        gateway_port = int(self.gateway.proxy.getsockname()[1])
        fds = (self.api.fileno(), self.tls.fileno(), theirs.fileno())
        argv = [sys.executable, "-m", "mlservice.platform"]
        argv += ["--config", control_plane_args(self.config)]
        argv += ["--api-fd", str(fds[0]), "--api-tls-fd", str(fds[1])]
        argv += ["--spawner-fd", str(fds[2])]
        argv += ["--gateway", self.gateway.url, "--gateway-admin", self.gateway.admin_url]
        argv += ["--gateway-port", str(gateway_port), "--parent-pid", str(os.getpid())]
        try:
            # Forked from the event loop's thread, which lives as long as `mls up` (the child's
            # parent-death signal is tied to it); its own session keeps a terminal's Ctrl-C
            # for `mls up`, which stops it in order.
            self.proc = await asyncio.create_subprocess_exec(
                *argv, pass_fds=fds, stdin=asyncio.subprocess.DEVNULL, start_new_session=True
            )
        finally:
            theirs.close()
        self._channel = asyncio.get_running_loop().create_task(self.service.serve(ours))

    async def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(base_url=self.api_url, timeout=2, trust_env=False) as http:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.returncode is not None:
                    raise Unavailable(
                        f"The control plane exited with code {self.proc.returncode} while "
                        "starting; see the lines above."
                    )
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise Unavailable(f"The control plane did not answer within {START_TIMEOUT:g}s.")

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM: it stops every replica, then the API; SIGKILL after `grace`."""
        await self._terminate(grace)
        if self._channel is not None:
            self._channel.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._channel


class Platform:
    """Runs a `PlatformConfig`: `await Platform(config, out=sys.stdout).run()`, or

        async with Platform(config, out=out) as platform:  # started, endpoints.json written
            await platform.serve()                         # until platform.stop()

    Start: the data dir's lock, the sockets (API, TLS API, gateway, admin) and the PKI, the
    gateway, the control plane (it reaps a dead run's replicas, installs the built-in runtimes,
    starts the controllers and the autoscaler), the kubeconfig, `apply`, then
    `endpoints.json`. Stop: the control plane (controllers, every replica, the API), what it
    left running, the gateway, `endpoints.json`, the lock. With `api_only` the control plane
    runs here, alone.
    """

    def __init__(self, config: PlatformConfig, *, out: IO[str]) -> None:
        self.config = config
        self.out = out
        self.token = ""
        self.endpoints: dict[str, Any] = {}
        """What `endpoints.json` says once started: `api`, `gateway`, `gateway_admin`, ..."""
        self.gateway: GatewayProcess | None = None
        self.control: ControlPlaneChild | None = None
        self.api_only: ControlPlane | None = None
        self.spawner: Spawner | None = None
        self._api: socket.socket | None = None
        self._tls: socket.socket | None = None
        self._stopped = asyncio.Event()
        self._lock = contextlib.ExitStack()

    async def run(self) -> None:
        """Serve until SIGINT or SIGTERM, then stop cleanly: replicas first, then the API."""
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            loop.add_signal_handler(sig, self.stop)
        try:
            async with self:
                await self.serve()
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)

    async def __aenter__(self) -> Platform:
        # Owner-only (0700, umask 0o077) before the lock file or anything else is written;
        # every child inherits the umask.
        self.config.home.ensure()
        self._lock.enter_context(exclusive_home(self.config.home))
        try:
            await self._start()
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._close()

    async def serve(self) -> None:
        if self.api_only is not None:
            await self.api_only.serve()
        else:
            await self._stopped.wait()

    def stop(self) -> None:
        """Ask the platform to stop: `serve()` returns, then leaving the `async with` stops
        everything. Safe from a signal handler and more than once."""
        self._stopped.set()
        if self.api_only is not None:
            self.api_only.stop()

    async def _start(self) -> None:
        config, home, out = self.config, self.config.home, self.out
        self.token = load_or_create_token(home)
        # Every socket is bound before anything starts, so a port in use fails at once.
        self._tls, fell_back = bind_api_tls(config.control_plane)
        pki = ensure_pki(home.pki)
        if config.api_only:
            control = self.api_only = ControlPlane(
                config.control_plane, home=home, token=self.token, tls_socket=self._tls
            )
            await control.start_api()
            api_url = control.api.url
        else:
            self._api = bind_loopback(config.control_plane.api_port)
            grpc, grpc_fell_back = bind_preferred(
                config.data_plane.gateway_grpc_port,
                default=DEFAULT_GATEWAY_GRPC_PORT,
                what="gateway gRPC",
            )
            self.gateway = _gateway(config, home, grpc=grpc)
            self.spawner = Spawner(warm=config.data_plane.warm_standby)
            await self.gateway.start()
            print(f"mlservice gateway listening on {self.gateway.url}", file=out, flush=True)
            taken = f", as port {DEFAULT_GATEWAY_GRPC_PORT} is in use" if grpc_fell_back else ""
            line = f"mlservice gateway gRPC (h2c) on {self.gateway.grpc_target}{taken}"
            print(line, file=out, flush=True)
            service = SpawnService(self.spawner)
            self.gateway.on_restart = _tell(service, GATEWAY_RESTARTED)
            self.control = ControlPlaneChild(
                config, api=self._api, tls=self._tls, gateway=self.gateway, service=service
            )
            await self.control.start()
            api_url = self.control.api_url
        print(f"mlservice API listening on {api_url} (data dir {home.root})", file=out, flush=True)
        tls_url = self._write_kubeconfig(pki, fell_back=fell_back)
        if config.apply:
            with Client(api_url, token=self.token, home=home) as client:
                await asyncio.to_thread(apply_paths, client, config.apply, out=out)
        # Last: whoever waits for endpoints.json (the CLI, `UpProcess`) finds the manifests in.
        self.endpoints = self._endpoints(api_url, tls_url)
        _write_endpoints(home, self.endpoints)

    def _write_kubeconfig(self, pki: Pki, *, fell_back: bool) -> str:
        """The kubeconfig for the TLS API, said on the output with the port; its URL."""
        assert self._tls is not None
        home, url = self.config.home, _url("https", self._tls)
        document = kubeconfig(server=url, ca_pem=pki.ca_pem(), token=self.token)
        write_kubeconfig(home.kubeconfig, document)
        taken = f", as port {DEFAULT_API_TLS_PORT} is in use" if fell_back else ""
        line = f"mlservice TLS API listening on {url}{taken} (kubeconfig {home.kubeconfig})"
        print(line, file=self.out, flush=True)
        return url

    def _endpoints(self, api_url: str, tls_url: str) -> dict[str, Any]:
        gateway = self.gateway
        return {
            "api": api_url,
            # What the kubeconfig names; the same API, for clients that send tokens only over TLS.
            "api_tls": tls_url,
            # The admin channel serves /metrics and, with the token, routes; null with --api-only.
            "gateway": gateway.url if gateway else None,
            "gateway_admin": gateway.admin_url if gateway else None,
            # A gRPC target (`127.0.0.1:PORT`), not a URL: what grpc and tritonclient take.
            "gateway_grpc": gateway.grpc_target if gateway else None,
            "domain": self.config.control_plane.domain,
            "pid": os.getpid(),
        }

    async def _close(self) -> None:
        try:
            if self.api_only is not None:
                self.api_only.stop()
                await self.api_only.close()
            if self.control is not None:
                await self.control.stop()
            if self.spawner is not None:
                # What a control plane killed mid-stop left running.
                leftovers = await self.spawner.running()
                await asyncio.gather(*(p.terminate(5.0) for p in leftovers))
                await self.spawner.aclose()
            if self.gateway is not None:
                await self.gateway.stop()
            for sock in (self._api, self._tls):
                if sock is not None:
                    sock.close()
            if self.endpoints:
                with contextlib.suppress(FileNotFoundError):
                    self.config.home.endpoints.unlink()
        finally:
            self._lock.close()


def _url(scheme: str, sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"{scheme}://{host}:{port}"


def _tell(service: SpawnService, event: str) -> Callable[[], Awaitable[None]]:
    async def tell() -> None:
        service.notify(event)

    return tell


def _gateway(config: PlatformConfig, home: Home, *, grpc: socket.socket) -> GatewayProcess:
    return GatewayProcess(
        grpc=grpc,
        port=config.data_plane.gateway_port,
        token_file=home.token,
        request_logs=home.request_logs,
        log_file=home.root / "logs" / "gateway.log",
    )


def _write_endpoints(home: Home, endpoints: dict[str, Any]) -> None:
    tmp = home.endpoints.with_name(f".{home.endpoints.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(endpoints, indent=2) + "\n")
    os.replace(tmp, home.endpoints)
