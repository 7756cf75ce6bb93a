"""Running the demo: train into the volume, then `mls up --apply examples/demo.yaml` in this
process, and tell the user what to try once the service is Ready.

The platform runs in the foreground here exactly as `mls up` runs it (`mlservice.platform`:
same config, same data-dir lock, same SIGINT/SIGTERM handling), so Ctrl-C stops the replicas,
the gateway and the API before the process exits. Beside it, one task waits for the MLService
to be Ready and prints the service URL, three curl commands and where the request log is.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from mlservice.demo import digits
from mlservice.demo.instructions import Addresses, announcement
from mlservice.home import Home

if TYPE_CHECKING:
    from mlservice.client import AsyncClient
    from mlservice.platform import PlatformConfig

SERVICE = "digits"
NAMESPACE = "default"
VOLUME = "demo"
REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class DemoConfig:
    home: Home
    api_port: int = 8787
    """The control-plane API port, as `mls up` has it; 0 picks a free one."""
    api_tls_port: int | None = None
    """The TLS API port, as `mls up --api-tls-port` (None: 6443, or a free one when taken)."""
    gateway_grpc_port: int | None = None
    """The gateway's gRPC port, as `mls up --gateway-grpc-port` (None: 8081, or a free one)."""
    gateway_port: int = 8080
    """The gateway port the curl commands go to; 0 picks a free one."""
    examples: Path = REPO / "examples"
    """The folder with demo.yaml and data/ (the PNG and JSON bodies the commands send)."""
    ready_timeout: float = 300.0
    """Seconds to wait for Ready before saying what is in the way (the demo keeps running)."""


def run_demo(config: DemoConfig, *, out: IO[str]) -> None:
    """Train, serve until SIGINT or SIGTERM, stop cleanly. Raises MLServiceError (a port in
    use, another `mls up` on the data dir) before anything starts."""
    from mlservice.platform import (
        ControlPlaneConfig,
        DataPlaneConfig,
        PlatformConfig,
        exclusive_home,
    )

    manifest = config.examples / "demo.yaml"
    if not manifest.is_file():
        raise FileNotFoundError(
            f"The demo manifest {manifest} does not exist; run the demo from a clone of the "
            "repository (make run)."
        )
    up = PlatformConfig(
        home=config.home,
        data_plane=DataPlaneConfig(
            gateway_port=config.gateway_port, gateway_grpc_port=config.gateway_grpc_port
        ),
        control_plane=ControlPlaneConfig(
            api_port=config.api_port, api_tls_port=config.api_tls_port
        ),
        apply=(manifest,),
    )
    # Before training, as a running `mls up` owns the volume; the platform takes it again.
    with exclusive_home(config.home):
        print(f"training two digit classifiers into volume {VOLUME!r}", file=out, flush=True)
        digits.train(config.home.volume(VOLUME))
        asyncio.run(_serve(up, config, out=out))


async def _serve(up: PlatformConfig, config: DemoConfig, *, out: IO[str]) -> None:
    from mlservice.platform import Platform

    serving = asyncio.create_task(Platform(up, out=out).run())
    announcing = asyncio.create_task(_announce(config, out=out))
    try:
        await serving
    finally:
        announcing.cancel()
        await asyncio.gather(announcing, return_exceptions=True)


async def _announce(config: DemoConfig, *, out: IO[str]) -> None:
    """Wait for Ready (bounded), then print what to try; or say why it is not Ready yet."""
    from mlservice.client import AsyncClient

    endpoints = await _own_endpoints(config.home)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + config.ready_timeout
    async with AsyncClient(endpoints["api"], home=config.home) as client:
        status = await _status(client)
        while not status.get("ready") and loop.time() < deadline:
            await asyncio.sleep(0.25)
            status = await _status(client)
    if not status.get("ready"):
        print(_not_ready(status, config.ready_timeout), file=out, flush=True)
        return
    addresses = Addresses(
        gateway=str(endpoints["gateway"]),
        domain=str(endpoints.get("domain", "localhost")),
        service_url=str(status["address"]["url"]),
    )
    text = announcement(
        addresses,
        service=SERVICE,
        namespace=NAMESPACE,
        data=_shown(config.examples / "data"),
        request_log=config.home.request_logs,
        mls=_mls(config.home),
    )
    print(text, file=out, flush=True)


async def _own_endpoints(home: Home) -> dict[str, Any]:
    """endpoints.json once this process's `mls up` has written it (not a stale one)."""
    while True:
        try:
            found: dict[str, Any] = json.loads(home.endpoints.read_text())
        except (OSError, ValueError):
            found = {}
        if found.get("pid") == os.getpid() and found.get("gateway"):
            return found
        await asyncio.sleep(0.1)


async def _status(client: AsyncClient) -> dict[str, Any]:
    """The service's status; empty until `--apply` has created it."""
    from mlservice.errors import NotFound

    try:
        obj = await client.get("mlservice", SERVICE, namespace=NAMESPACE)
    except NotFound:
        return {}
    status: dict[str, Any] = obj.get("status") or {}
    return status


def _not_ready(status: dict[str, Any], timeout: float) -> str:
    conditions: list[dict[str, Any]] = status.get("conditions", [])
    ready = next((c for c in conditions if c.get("type") == "Ready"), {})
    why = f"{ready.get('reason', 'Unknown')}: {ready.get('message', 'no message yet')}"
    return (
        f"MLService {SERVICE} is not Ready after {timeout:g}s ({why}); "
        f"see `mls describe mlsvc {SERVICE}` and `mls logs {SERVICE} --container user-container`."
    )


def _mls(home: Home) -> str:
    """How to run the CLI against this data dir from the user's shell."""
    program = Path(sys.executable).parent / "mls"
    command = str(_shown(program)) if program.exists() else "mls"
    if home != Home.from_env():
        command = f"MLS_HOME={shlex.quote(str(home.root))} {command}"
    return command


def _shown(path: Path) -> Path:
    """`path` relative to the working directory when it is inside it, for shorter commands."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
