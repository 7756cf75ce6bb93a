"""`mls up`: the supervisor process: the API, then the local engine, the built-in runtimes,
the gateway (a child process), the controllers and the autoscaler between them."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

from mlservice.errors import InvalidInput, MLServiceError
from mlservice.home import Home

if TYPE_CHECKING:
    from mlservice.autoscaler import Autoscaler, ScaleChange
    from mlservice.controller import Controllers
    from mlservice.engine.local import LocalEngine
    from mlservice.gateway.link import GatewayLink
    from mlservice.store import Store


@dataclass(frozen=True)
class UpConfig:
    """What `mls up` runs with; each field is one flag."""

    home: Home
    api_port: int = 8787
    """Loopback port of the control-plane API; 0 picks a free one (see `endpoints.json`)."""
    gateway_port: int = 8080
    """Loopback port of the gateway; 0 picks a free one (see `endpoints.json`)."""
    domain: str = "localhost"
    """Host suffix of service URLs: `{name}.{namespace}.{domain}`."""
    apply: tuple[Path, ...] = ()
    """Manifests (files, directories or `-`) applied once the API is up."""
    max_replicas: int | None = None
    """Machine-wide cap on replica processes; None: no cap beyond each service's own."""
    port_range: tuple[int, int] = (20000, 29999)
    """Replica ports, below the kernel's ephemeral range so they never collide with clients."""
    backoff_cap: float = 10.0
    """Longest wait, in seconds, before restarting a crashed replica."""
    warm_standby: bool = True
    """Keep a `mls serve` standby with scikit-learn imported (~165 MB RSS idle), so a sklearn
    replica, a scale-from-zero above all, starts in tenths of a second."""
    api_only: bool = False
    """Serve the API alone: objects are stored but nothing runs them (no engine, controllers
    or replicas), as a bare Kubernetes API server; for tools and tests of the API itself."""


def parse_port_range(text: str) -> tuple[int, int]:
    found = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
    low, high = (int(found[1]), int(found[2])) if found else (0, -1)
    if not found or not 1024 <= low <= high <= 65535:
        raise InvalidInput(
            f"--port-range {text!r} is not A-B with 1024 <= A <= B <= 65535 (e.g. 20000-29999)."
        )
    return low, high


@contextlib.contextmanager
def exclusive_home(home: Home) -> Iterator[None]:
    """One supervisor per data dir: two would both write `state.db` and fight over ports."""
    home.root.mkdir(parents=True, exist_ok=True)
    with open(home.root / "up.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InvalidInput(
                f"Another `mls up` is already running with data dir {home.root}."
            ) from None
        yield


def write_endpoints(home: Home, endpoints: dict[str, Any]) -> None:
    tmp = home.endpoints.with_name(f".{home.endpoints.name}.{os.getpid()}")
    tmp.write_text(json.dumps(endpoints, indent=2) + "\n")
    os.replace(tmp, home.endpoints)


async def run(config: UpConfig, *, out: IO[str]) -> None:
    """Serve until SIGINT or SIGTERM, then stop cleanly: replicas first, then the API."""
    from mlservice.api.app import create_app
    from mlservice.api.auth import load_or_create_token
    from mlservice.api.server import ApiServer, bind_loopback
    from mlservice.client.manifests import apply_paths
    from mlservice.client import Client
    from mlservice.controller import install_builtin_runtimes
    from mlservice.store.sqlite import SqliteStore

    home = config.home
    store = SqliteStore(home.state_db)
    token = load_or_create_token(home)
    api = ApiServer(create_app(store=store, home=home, token=token), bind_loopback(config.api_port))
    gateway = None if config.api_only else _gateway(config, token)
    engine, controllers, autoscaler = (
        _supervision(config, store, gateway) if gateway is not None else (None, None, None)
    )

    def stop() -> None:
        api.stop()
        store.close_watches()  # open watch streams end now instead of at the grace timeout

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    serving = asyncio.create_task(api.serve())
    try:
        await api.wait_started(serving)
        if engine is not None and controllers is not None:
            reaped = await engine.start()
            if reaped:
                print(f"stopped {len(reaped)} leftover replica process(es)", file=out, flush=True)
            install_builtin_runtimes(store)
            if gateway is not None:
                await gateway.start()
                print(f"mlservice gateway listening on {gateway.url}", file=out, flush=True)
            await controllers.start()
            if autoscaler is not None:
                autoscaler.start()
        endpoints: dict[str, Any] = {"api": api.url, "gateway": None, "gateway_admin": None}
        if gateway is not None:  # the admin channel serves /metrics and, with the token, routes
            endpoints.update(gateway=gateway.url, gateway_admin=gateway.process.admin_url)
        endpoints.update(domain=config.domain, pid=os.getpid())
        write_endpoints(home, endpoints)
        print(f"mlservice API listening on {api.url} (data dir {home.root})", file=out, flush=True)
        if config.apply:
            with Client(api.url, token=token, home=home) as client:
                await asyncio.to_thread(apply_paths, client, config.apply, out=out)
        await serving
    finally:
        stop()
        if autoscaler is not None:
            await autoscaler.close()
        if controllers is not None:
            await controllers.close()
        if engine is not None:
            await engine.close()
        if gateway is not None:
            await gateway.close()
        await asyncio.wait_for(serving, timeout=10)
        with contextlib.suppress(FileNotFoundError):
            home.endpoints.unlink()
        store.close()


def _gateway(config: UpConfig, token: str) -> GatewayLink:
    """The gateway child, its ports bound now so the controllers know the real one."""
    from mlservice.gateway.link import GatewayLink

    return GatewayLink(home=config.home, port=config.gateway_port, token=token)


def _supervision(
    config: UpConfig, store: Store, gateway: GatewayLink
) -> tuple[LocalEngine, Controllers, Autoscaler]:
    """The engine, the controllers over it and the autoscaler feeding them, not started yet."""
    from mlservice.autoscaler import Autoscaler, AutoscalerSettings
    from mlservice.controller import ControllerConfig, Controllers, MemorySink, RouteSink
    from mlservice.engine.local import LocalEngine, LocalEngineConfig

    home = config.home
    engine = LocalEngine(
        LocalEngineConfig(
            home=home,
            port_range=config.port_range,
            backoff_cap=config.backoff_cap,
            warm_standby=config.warm_standby,
        )
    )
    # The KPA reads the gateway's load and the engine's readiness, and writes a scale per
    # revision that the controllers (alone) apply; `MLS_AUTOSCALER_*` env shortens its timings.
    autoscaler = Autoscaler(
        settings=AutoscalerSettings.from_env(),
        cap=config.max_replicas,
        alive=lambda revision: revision in controllers.context.owners,
        on_decision=lambda change: _record_scale(controllers, change),
    )
    engine.subscribe(autoscaler.replica_changed)
    gateway.subscribe(autoscaler.observe)
    # Routing snapshots go to every sink here: memory (for tests) and the gateway. The gateway's
    # load reports and activations are `gateway.subscribe(...)`'s, for the autoscaler.
    sinks: list[RouteSink] = [MemorySink(), gateway.sink]
    controllers = Controllers(
        store=store,
        engine=engine,
        config=ControllerConfig(
            home=home,
            domain=config.domain,
            gateway_port=gateway.port,
            max_replicas=config.max_replicas,
        ),
        scale=autoscaler,
        sinks=sinks,
    )
    return engine, controllers, autoscaler


def _record_scale(controllers: Controllers, change: ScaleChange) -> None:
    """An event on the object that owns the revision, e.g. ScaledUp with the KPA's inputs."""
    from mlservice.controller.events import Involved
    from mlservice.resources.kinds import by_kind
    from mlservice.store import Key

    owner = controllers.context.owners.get(change.revision_id)
    info = by_kind(owner.kind) if isinstance(owner, Key) else None
    if isinstance(owner, Key) and info is not None:
        involved = Involved(info.api_version, owner.kind, owner.namespace, owner.name)
        controllers.context.events.normal(involved, change.reason, change.message)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""

    @app.command()
    def up(
        home: Annotated[Path | None, typer.Option(help="Data dir (default $MLS_HOME).")] = None,
        api_port: Annotated[
            int, typer.Option(min=0, max=65535, help="API port; 0 picks a free one.")
        ] = 8787,
        gateway_port: Annotated[int, typer.Option(min=0, max=65535, help="Gateway port.")] = 8080,
        domain: Annotated[str, typer.Option(help="Service host suffix.")] = "localhost",
        apply: Annotated[
            list[Path] | None, typer.Option(help="Manifest to apply once up (repeatable).")
        ] = None,
        max_replicas: Annotated[
            int | None, typer.Option(min=1, help="Cap on replica processes, machine-wide.")
        ] = None,
        port_range: Annotated[str, typer.Option(help="Replica port pool, A-B.")] = "20000-29999",
        backoff_cap: Annotated[
            float, typer.Option(min=0.1, help="Longest wait before restarting a crashed replica.")
        ] = 10.0,
        warm_standby: Annotated[
            bool, typer.Option(help="Keep a warm sklearn replica process ready (~165 MB).")
        ] = True,
        api_only: Annotated[
            bool, typer.Option(help="Serve only the API: store objects, run nothing.")
        ] = False,
    ) -> None:
        """Run mlservice in the foreground: the API, the controllers and the replicas."""
        from mlservice.cli.output import fail

        try:
            config = UpConfig(
                home=Home.from_env(home),
                api_port=api_port,
                gateway_port=gateway_port,
                domain=domain,
                apply=tuple(apply or ()),
                max_replicas=max_replicas,
                port_range=parse_port_range(port_range),
                backoff_cap=backoff_cap,
                warm_standby=warm_standby,
                api_only=api_only,
            )
            with exclusive_home(config.home):
                asyncio.run(run(config, out=typer.get_text_stream("stdout")))
        except MLServiceError as err:
            fail(err)
