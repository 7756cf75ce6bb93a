"""The composition root: everything `mls up` (and the demo) runs, built from one config value.

    config = PlatformConfig(home=Home.from_env(), apply=(Path("svc.yaml"),))
    asyncio.run(Platform(config, out=sys.stdout).run())  # until SIGINT or SIGTERM

As uvicorn splits `Config` from `Server`, `PlatformConfig` is a value (each `mls up` flag is
one field) and `Platform` runs it. The platform is two halves that meet at a process seam:

- the data plane (`LocalDataPlane`): the gateway child process, held through `GatewayLink`,
  and the replica spawner, the local engine that starts, probes and restarts replica
  processes. Requests flow through it and nothing else;
- the control plane (`ControlPlane`): the store, the API, the controllers and the autoscaler.
  It decides what runs and where requests go, and could stop without a request failing.

The control plane reaches the data plane only through `DataPlane`: the engine it drives, the
sink its routing snapshots go to, the gateway's signals the autoscaler reads, and the
addresses the data plane bound. Nothing else crosses, and the data plane never calls back.
Today both halves share one process and one event loop. A later issue runs the control plane
as a child process of `mls up`: `mls up` becomes the supervisor that keeps the data plane
(gateway and replicas serve on while the control plane crashes and restarts), and a restarted
control plane adopts the replicas it finds running. That is meant to be a change of process
boundaries, a `DataPlane` whose engine calls cross a pipe (snapshots and signals already
travel over the gateway's admin HTTP channel), not a rewrite of either half.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from mlservice.api.app import create_app
from mlservice.api.auth import load_or_create_token
from mlservice.api.server import ApiServer, bind_loopback
from mlservice.autoscaler import Autoscaler, AutoscalerSettings, ScaleChange
from mlservice.client import Client
from mlservice.client.manifests import apply_paths
from mlservice.controller import (
    ControllerConfig,
    Controllers,
    MemorySink,
    RouteSink,
    install_builtin_runtimes,
)
from mlservice.controller.events import Involved
from mlservice.controller.secrets import secret_lookup
from mlservice.engine import Engine
from mlservice.engine.local import LocalEngine, LocalEngineConfig, SecretLookup
from mlservice.errors import InvalidInput
from mlservice.gateway.link import GatewayLink, SignalListener
from mlservice.home import Home
from mlservice.resources.kinds import by_kind
from mlservice.store import Key
from mlservice.store.sqlite import SqliteStore

API_STOP_TIMEOUT = 10.0


# -- config ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataPlaneConfig:
    """The gateway and the replica processes: `mls up`'s data-plane flags."""

    gateway_port: int = 8080
    """Loopback port of the gateway: 8080, the port the docs' curl commands use (as KServe's
    examples do); 0 picks a free one (see `endpoints.json`)."""
    port_range: tuple[int, int] = (20000, 29999)
    """Replica ports, below the kernel's ephemeral range so they never collide with clients."""
    backoff_cap: float = 10.0
    """Longest wait, in seconds, before restarting a crashed replica: Kubernetes waits up to
    5 minutes, but here someone is usually watching the replica they just fixed."""
    warm_standby: bool = True
    """Keep a `mls serve` standby with scikit-learn imported (~165 MB RSS idle), so a sklearn
    replica, a scale-from-zero above all, starts in tenths of a second."""


@dataclass(frozen=True)
class ControlPlaneConfig:
    """The API, the controllers and the autoscaler: `mls up`'s control-plane flags."""

    api_port: int = 8787
    """Loopback port of the API: 8787 is where the CLI and SDK look when neither `MLS_API` nor
    `endpoints.json` says otherwise; 0 picks a free one (see `endpoints.json`)."""
    domain: str = "localhost"
    """Host suffix of service URLs, `{name}.{namespace}.{domain}`: browsers and curl resolve
    `*.localhost` to loopback, so the URLs in status work as printed."""
    max_replicas: int | None = None
    """Machine-wide cap on replica processes; None: no cap beyond each service's own, since
    only the user knows what their machine holds."""


@dataclass(frozen=True)
class PlatformConfig:
    """What `mls up` runs with; each flag is one field here or in one of the two halves."""

    home: Home
    """The data dir (`--home`, default `$MLS_HOME`): state, token, volumes, replicas, logs;
    one platform at a time per data dir (`up.lock`)."""
    data_plane: DataPlaneConfig = field(default_factory=DataPlaneConfig)
    """The gateway and the replica processes."""
    control_plane: ControlPlaneConfig = field(default_factory=ControlPlaneConfig)
    """The API, the controllers and the autoscaler."""
    apply: tuple[Path, ...] = ()
    """Manifests (files, directories or `-`) applied once the API is up; none by default, as
    the objects of earlier runs are kept in `state.db` and come back by themselves."""
    api_only: bool = False
    """Serve the API alone: objects are stored but nothing runs them (no data plane, no
    controllers or autoscaler), as a bare Kubernetes API server; for tools and tests of the
    API itself. Off by default: a platform that runs nothing surprises everyone else."""


# -- the seam --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataPlaneAddresses:
    """What the data plane bound, known before it starts (port 0 resolved)."""

    gateway: str
    """Where clients send requests, `http://127.0.0.1:PORT`."""
    gateway_admin: str
    """The admin channel: routes (with the API token), signals, `/metrics`."""
    gateway_port: int
    """The gateway's port, written into status URLs and a transformer's `PREDICTOR_HOST`."""


class DataPlane(Protocol):
    """All the control plane may use of the data plane (see the module docstring)."""

    @property
    def engine(self) -> Engine:
        """The replica spawner the controllers drive."""
        ...

    @property
    def routes(self) -> RouteSink:
        """Where the controllers' routing snapshots go."""
        ...

    @property
    def addresses(self) -> DataPlaneAddresses: ...

    def subscribe(self, listener: SignalListener) -> Callable[[], None]:
        """The gateway's load reports and activations, for the autoscaler; returns the
        unsubscribe function."""
        ...


class LocalDataPlane(DataPlane):
    """The gateway child and the local engine: its sockets are bound at construction, so its
    addresses are known before anything starts."""

    def __init__(
        self, config: DataPlaneConfig, *, home: Home, token: str, secrets: SecretLookup
    ) -> None:
        self.gateway = GatewayLink(home=home, port=config.gateway_port, token=token)
        # Replicas reach other services through the gateway (a transformer's PREDICTOR_HOST);
        # Secrets are read where they are kept, the control plane's store.
        self.local_engine = LocalEngine(
            LocalEngineConfig(
                home=home,
                gateway_address=f"127.0.0.1:{self.gateway.port}",
                port_range=config.port_range,
                backoff_cap=config.backoff_cap,
                warm_standby=config.warm_standby,
            ),
            secrets=secrets,
        )

    @property
    def engine(self) -> Engine:
        return self.local_engine

    @property
    def routes(self) -> RouteSink:
        return self.gateway.sink

    @property
    def addresses(self) -> DataPlaneAddresses:
        return DataPlaneAddresses(
            gateway=self.gateway.url,
            gateway_admin=self.gateway.process.admin_url,
            gateway_port=self.gateway.port,
        )

    def subscribe(self, listener: SignalListener) -> Callable[[], None]:
        return self.gateway.subscribe(listener)

    async def start_engine(self) -> list[int]:
        """Start spawning; returns the pids of a dead run's replicas it stopped first."""
        return await self.local_engine.start()

    async def start_gateway(self) -> None:
        await self.gateway.start()

    async def close(self) -> None:
        """Every replica first, while the gateway still answers; then the gateway."""
        await self.local_engine.close()
        await self.gateway.close()


class ControlPlane:
    """The store and the API; given a data plane, the autoscaler and the controllers over it.
    The API's socket is bound at construction."""

    def __init__(self, config: ControlPlaneConfig, *, home: Home, token: str) -> None:
        self.config = config
        self.home = home
        self.store = SqliteStore(home.state_db)
        app = create_app(store=self.store, home=home, token=token)
        self.api = ApiServer(app, bind_loopback(config.api_port))
        self.autoscaler: Autoscaler | None = None
        self.controllers: Controllers | None = None
        self._serving: asyncio.Task[None] | None = None

    def supervise(self, data_plane: DataPlane) -> None:
        """Build the autoscaler and the controllers over `data_plane` (started by `start`)."""
        # The KPA reads the gateway's load and the engine's readiness, and writes a scale per
        # revision that the controllers (alone) apply; `MLS_AUTOSCALER_*` env shortens its timings.
        autoscaler = Autoscaler(
            settings=AutoscalerSettings.from_env(),
            cap=self.config.max_replicas,
            alive=lambda revision: revision in controllers.context.owners,
            on_decision=lambda change: _record_scale(controllers, change),
        )
        data_plane.engine.subscribe(autoscaler.replica_changed)
        data_plane.subscribe(autoscaler.observe)
        # Routing snapshots go to every sink here: memory (for tests) and the gateway.
        sinks: list[RouteSink] = [MemorySink(), data_plane.routes]
        controllers = Controllers(
            store=self.store,
            engine=data_plane.engine,
            config=ControllerConfig(
                home=self.home,
                domain=self.config.domain,
                gateway_port=data_plane.addresses.gateway_port,
                max_replicas=self.config.max_replicas,
            ),
            scale=autoscaler,
            sinks=sinks,
        )
        self.autoscaler, self.controllers = autoscaler, controllers

    async def start_api(self) -> None:
        self._serving = asyncio.create_task(self.api.serve())
        await self.api.wait_started(self._serving)

    async def start(self) -> None:
        """The built-in runtimes, then the controllers and the autoscaler (when supervising)."""
        if self.controllers is None:
            return
        install_builtin_runtimes(self.store)
        await self.controllers.start()
        if self.autoscaler is not None:
            self.autoscaler.start()

    async def serve(self) -> None:
        """Until `stop()`: the API serving is what keeps the platform up."""
        if self._serving is not None:
            await asyncio.shield(self._serving)

    def stop(self) -> None:
        self.api.stop()
        self.store.close_watches()  # open watch streams end now instead of at the grace timeout

    async def close_supervision(self) -> None:
        if self.autoscaler is not None:
            await self.autoscaler.close()
        if self.controllers is not None:
            await self.controllers.close()

    async def close(self) -> None:
        """Let the API finish its last requests, then close the store."""
        if self._serving is not None:
            await asyncio.wait_for(self._serving, timeout=API_STOP_TIMEOUT)
        self.store.close()


def _record_scale(controllers: Controllers, change: ScaleChange) -> None:
    """An event on the object that owns the revision, e.g. ScaledUp with the KPA's inputs."""
    owner = controllers.context.owners.get(change.revision_id)
    info = by_kind(owner.kind) if isinstance(owner, Key) else None
    if isinstance(owner, Key) and info is not None:
        involved = Involved(info.api_version, owner.kind, owner.namespace, owner.name)
        controllers.context.events.normal(involved, change.reason, change.message)


# -- running ---------------------------------------------------------------------------------


class Platform:
    """Runs a `PlatformConfig`: `await Platform(config, out=sys.stdout).run()`, or

        async with Platform(config, out=out) as platform:  # started, endpoints.json written
            await platform.serve()                         # until platform.stop()

    Start: the data dir's lock, the API, the engine (reaping a dead run's replicas), the
    gateway, the built-in runtimes, the controllers and the autoscaler, `endpoints.json`, then
    `apply`. Stop, in this order: the API stops accepting and watch streams end, the
    autoscaler, the controllers, every replica, the gateway, the API's last requests,
    `endpoints.json`, the store, the lock.
    """

    def __init__(self, config: PlatformConfig, *, out: IO[str]) -> None:
        self.config = config
        self.out = out
        self.token = ""
        self.control: ControlPlane | None = None
        self.data: LocalDataPlane | None = None
        self.endpoints: dict[str, Any] = {}
        """What `endpoints.json` says once started: `api`, `gateway`, `gateway_admin`, ..."""
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
        if self.control is not None:
            await self.control.serve()

    def stop(self) -> None:
        """Ask the platform to stop: `serve()` returns, then leaving the `async with` stops
        everything. Safe from a signal handler and more than once."""
        if self.control is not None:
            self.control.stop()

    async def _start(self) -> None:
        config, home, out = self.config, self.config.home, self.out
        self.token = load_or_create_token(home)
        # Every socket is bound before anything starts, so a port in use fails at once.
        control = self.control = ControlPlane(config.control_plane, home=home, token=self.token)
        if not config.api_only:
            secrets = secret_lookup(control.store)
            self.data = LocalDataPlane(
                config.data_plane, home=home, token=self.token, secrets=secrets
            )
            control.supervise(self.data)
        await control.start_api()
        if self.data is not None:
            reaped = await self.data.start_engine()
            if reaped:
                print(f"stopped {len(reaped)} leftover replica process(es)", file=out, flush=True)
            await self.data.start_gateway()
            print(f"mlservice gateway listening on {self.data.gateway.url}", file=out, flush=True)
        await control.start()
        self.endpoints = self._endpoints()
        _write_endpoints(home, self.endpoints)
        listening = f"mlservice API listening on {control.api.url} (data dir {home.root})"
        print(listening, file=out, flush=True)
        if config.apply:
            with Client(control.api.url, token=self.token, home=home) as client:
                await asyncio.to_thread(apply_paths, client, config.apply, out=out)

    def _endpoints(self) -> dict[str, Any]:
        assert self.control is not None
        endpoints: dict[str, Any] = {"api": self.control.api.url}
        # The admin channel serves /metrics and, with the token, routes; null with --api-only.
        addresses = self.data.addresses if self.data is not None else None
        endpoints["gateway"] = addresses.gateway if addresses else None
        endpoints["gateway_admin"] = addresses.gateway_admin if addresses else None
        endpoints.update(domain=self.config.control_plane.domain, pid=os.getpid())
        return endpoints

    async def _close(self) -> None:
        try:
            if self.control is not None:
                self.control.stop()
                await self.control.close_supervision()
            if self.data is not None:
                await self.data.close()
            if self.control is not None:
                await self.control.close()
                with contextlib.suppress(FileNotFoundError):
                    self.config.home.endpoints.unlink()
        finally:
            self._lock.close()


def _write_endpoints(home: Home, endpoints: dict[str, Any]) -> None:
    tmp = home.endpoints.with_name(f".{home.endpoints.name}.{os.getpid()}")
    tmp.write_text(json.dumps(endpoints, indent=2) + "\n")
    os.replace(tmp, home.endpoints)


# -- one platform per data dir ---------------------------------------------------------------

_held: dict[Path, int] = {}  # data dirs this process has locked, and how deeply


@contextlib.contextmanager
def exclusive_home(home: Home) -> Iterator[None]:
    """One platform per data dir: two would both write `state.db` and fight over ports.

    Re-entrant within a process, so the demo can hold the lock while it trains into a volume
    and then run a `Platform`, which takes it again."""
    root = home.root.resolve()
    if root in _held:
        _held[root] += 1
        try:
            yield
        finally:
            _held[root] -= 1
        return
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "up.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InvalidInput(
                f"Another `mls up` is already running with data dir {home.root}."
            ) from None
        _held[root] = 1
        try:
            yield
        finally:
            del _held[root]
