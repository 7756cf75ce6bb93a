"""The control plane: the store, the API, the controllers and the autoscaler.

Under `mls up` it runs as a child process of the data-plane supervisor (`supervisor.py`):
`python -m mlservice.platform --config JSON --api-fd N --api-tls-fd T --spawner-fd M ...`. It may
crash and be restarted without a request failing: the gateway serves on from its last routing
snapshot and the replicas run on, forked by the supervisor. A restarted control plane adopts
the replicas it finds (same revision hash: same pids, same ports) and pushes the gateway a
whole snapshot again. `ControlPlane` itself only needs a `DataPlane` (`seam.py`); tests run it
in process over a fake one, and `mls up --api-only` runs it alone.
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
from collections.abc import Callable

from mlservice.api.app import create_app
from mlservice.api.auth import load_or_create_token
from mlservice.api.metrics_history import MetricsHistory, MetricsScraper
from mlservice.api.pki import ensure_pki
from mlservice.api.pods import PodView
from mlservice.api.server import ApiServer, TlsListener, bind_loopback, bind_preferred
from mlservice.autoscaler import Autoscaler, AutoscalerSettings, ScaleChange
from mlservice.controller import (
    ControllerConfig,
    Controllers,
    MemorySink,
    RouteSink,
    install_builtin_runtimes,
)
from mlservice.controller.analysis_metrics import RevisionMetrics
from mlservice.controller.analysis_step import with_analysis
from mlservice.controller.events import Involved
from mlservice.controller.kinds import KINDS
from mlservice.controller.secrets import secret_lookup, service_account_lookup
from mlservice.controller.shadow_metrics import ShadowMetrics, with_shadows
from mlservice.engine import Engine
from mlservice.engine.local import LocalEngine, LocalEngineConfig
from mlservice.engine.local.channel import RemoteSpawner
from mlservice.gateway.client import GatewayClient
from mlservice.gateway.link import SignalListener, SignalPump
from mlservice.home import Home
from mlservice.platform.config import (
    DEFAULT_API_TLS_PORT,
    ControlPlaneConfig,
    parse_control_plane_args,
)
from mlservice.platform.seam import DataPlane, DataPlaneAddresses
from mlservice.resources.kinds import by_kind
from mlservice.store import Key
from mlservice.store.sqlite import SqliteStore

log = logging.getLogger("mlservice.platform")
API_STOP_TIMEOUT = 10.0
PR_SET_PDEATHSIG = 1
GATEWAY_RESTARTED = "gateway-restarted"


def bind_api_tls(config: ControlPlaneConfig) -> tuple[socket.socket, bool]:
    """The TLS listener's socket, and whether the default port was taken (then a free one)."""
    return bind_preferred(config.api_tls_port, default=DEFAULT_API_TLS_PORT, what="TLS API")


class ControlPlane:
    """The store and the API; given a data plane, the autoscaler and the controllers over it.
    The API's sockets (plain and TLS) are bound at construction unless given."""

    def __init__(
        self,
        config: ControlPlaneConfig,
        *,
        home: Home,
        token: str,
        api_socket: socket.socket | None = None,
        tls_socket: socket.socket | None = None,
    ) -> None:
        self.config = config
        self.home = home
        self.store = SqliteStore(home.state_db)
        # The replicas as Pods, once `supervise` gives the view an engine.
        self.pods = PodView()
        # The console's charts: the gateway's metrics, scraped once `supervise` names it.
        self.metrics = MetricsHistory()
        self.scraper: MetricsScraper | None = None
        app = create_app(
            store=self.store, home=home, token=token, pod_view=self.pods, metrics=self.metrics
        )
        # Under `mls up` the supervisor binds the API's socket and hands it down, so a
        # restarted control plane answers on the same port (callers wait in the backlog).
        sock = api_socket if api_socket is not None else bind_loopback(config.api_port)
        tls_sock = tls_socket if tls_socket is not None else bind_api_tls(config)[0]
        # Made once per data dir; a restarted control plane finds it and re-issues nothing.
        pki = ensure_pki(home.pki)
        tls = TlsListener(tls_sock, certfile=pki.server_cert, keyfile=pki.server_key)
        self.api = ApiServer(app, sock, tls=tls)
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
        self.pods.attach(data_plane.engine)
        data_plane.subscribe(autoscaler.observe)
        # The canary analysis (spec.analysis) reads the same signals, per revision and second.
        metrics = RevisionMetrics()
        data_plane.subscribe(metrics.observe)
        # status.shadow (spec.shadow's agreement) too.
        shadows = ShadowMetrics()
        data_plane.subscribe(shadows.observe)
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
            kinds=with_shadows(with_analysis(KINDS, metrics), shadows),
        )
        self.autoscaler, self.controllers = autoscaler, controllers
        self.scraper = MetricsScraper(self.metrics, admin_url=data_plane.addresses.gateway_admin)

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
        if self.scraper is not None:
            self.scraper.start()

    async def serve(self) -> None:
        """Until `stop()`: the API serving is what keeps the platform up."""
        if self._serving is not None:
            await asyncio.shield(self._serving)

    def stop(self) -> None:
        self.api.stop()
        self.store.close_watches()  # open watch streams end now instead of at the grace timeout
        self.pods.close()

    async def close_supervision(self) -> None:
        if self.scraper is not None:
            await self.scraper.close()
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


class RemoteDataPlane(DataPlane):
    """The data plane as the control-plane child reaches it: an engine whose processes the
    supervisor forks (over the spawner channel), and the gateway's admin channel."""

    def __init__(
        self, *, engine: LocalEngine, gateway: GatewayClient, addresses: DataPlaneAddresses
    ) -> None:
        self.local_engine = engine
        self.gateway = gateway
        self._addresses = addresses
        self._pump = SignalPump(gateway)
        self._resync: asyncio.Task[None] | None = None

    @property
    def engine(self) -> Engine:
        return self.local_engine

    @property
    def routes(self) -> RouteSink:
        return self.gateway

    @property
    def addresses(self) -> DataPlaneAddresses:
        return self._addresses

    def subscribe(self, listener: SignalListener) -> Callable[[], None]:
        return self._pump.subscribe(listener)

    def gateway_restarted(self) -> None:
        """The supervisor restarted the gateway: send it the routes again, whole."""
        self._resync = asyncio.get_running_loop().create_task(self.gateway.resync())

    async def start(self) -> list[int]:
        reaped = await self.local_engine.start()
        self._pump.start()
        return reaped

    async def close(self) -> None:
        """Every replica (a clean stop; a crash leaves them to the next control plane)."""
        await self._pump.close()
        await self.local_engine.close()
        await self.gateway.aclose()


def main(argv: list[str] | None = None) -> None:
    """The control-plane child of `mls up`."""
    parser = argparse.ArgumentParser(prog="python -m mlservice.platform")
    parser.add_argument("--config", required=True)
    parser.add_argument("--api-fd", type=int, required=True)
    parser.add_argument("--api-tls-fd", type=int, required=True)
    parser.add_argument("--spawner-fd", type=int, required=True)
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--gateway-admin", required=True)
    parser.add_argument("--gateway-port", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    args = parser.parse_args(argv)
    _die_with_parent(args.parent_pid)
    # Our own notes (adoption, restarts); not every request a client library makes.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(name)s: %(message)s")
    logging.getLogger("mlservice").setLevel(logging.INFO)
    asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> None:
    config = parse_control_plane_args(args.config)
    home = config.home
    token = load_or_create_token(home)
    api, tls = socket.socket(fileno=args.api_fd), socket.socket(fileno=args.api_tls_fd)
    control = ControlPlane(
        config.control_plane, home=home, token=token, api_socket=api, tls_socket=tls
    )
    spawner = await RemoteSpawner.connect(socket.socket(fileno=args.spawner_fd))
    engine = LocalEngine(
        LocalEngineConfig(
            home=home,
            gateway_address=f"127.0.0.1:{args.gateway_port}",
            port_range=config.data_plane.port_range,
            backoff_cap=config.data_plane.backoff_cap,
        ),
        secrets=secret_lookup(control.store),
        accounts=service_account_lookup(control.store),
        spawner=spawner,
    )
    addresses = DataPlaneAddresses(args.gateway, args.gateway_admin, args.gateway_port)
    gateway = GatewayClient(args.gateway_admin, token=token)
    data = RemoteDataPlane(engine=engine, gateway=gateway, addresses=addresses)
    spawner.on_event = lambda event: (
        data.gateway_restarted() if event == GATEWAY_RESTARTED else None
    )
    control.supervise(data)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, control.stop)
    try:
        await control.start_api()
        reaped = await data.start()
        if reaped:
            print(f"stopped {len(reaped)} leftover replica process(es)", flush=True)
        await control.start()
        await control.serve()
    finally:
        control.stop()
        await control.close_supervision()
        await data.close()
        await spawner.aclose()
        await control.close()


def _die_with_parent(parent: int) -> None:
    """Never outlive `mls up`, even when it is SIGKILLed (it is our data plane's owner)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        sys.exit(1)
