"""`mls up`: its flags mapped 1:1 onto `PlatformConfig`, run in the foreground by `Platform`
(`mlservice/platform/`, the composition root) until SIGINT or SIGTERM."""

from __future__ import annotations

import re
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

from mlservice.errors import InvalidInput, MLServiceError
from mlservice.home import Home

if TYPE_CHECKING:
    from mlservice.platform import Platform


def parse_port_range(text: str) -> tuple[int, int]:
    found = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
    low, high = (int(found[1]), int(found[2])) if found else (0, -1)
    if not found or not 1024 <= low <= high <= 65535:
        raise InvalidInput(
            f"--port-range {text!r} is not A-B with 1024 <= A <= B <= 65535 (e.g. 20000-29999)."
        )
    return low, high


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""

    @app.command()
    def up(
        home: Annotated[Path | None, typer.Option(help="Data dir (default $MLS_HOME).")] = None,
        api_port: Annotated[
            int, typer.Option(min=0, max=65535, help="API port; 0 picks a free one.")
        ] = 8787,
        api_tls_port: Annotated[
            int | None,
            typer.Option(
                min=0,
                max=65535,
                show_default=False,
                help="TLS API port, the kubeconfig's (default 6443, or a free one if taken).",
            ),
        ] = None,
        gateway_port: Annotated[int, typer.Option(min=0, max=65535, help="Gateway port.")] = 8080,
        gateway_grpc_port: Annotated[
            int | None,
            typer.Option(
                min=0,
                max=65535,
                show_default=False,
                help="Gateway gRPC (h2c) port (default 8081, or a free one if taken).",
            ),
        ] = None,
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
        import asyncio

        from mlservice.cli.output import fail
        from mlservice.platform import (
            ControlPlaneConfig,
            DataPlaneConfig,
            Platform,
            PlatformConfig,
        )

        try:
            config = PlatformConfig(
                home=Home.from_env(home),
                data_plane=DataPlaneConfig(
                    gateway_port=gateway_port,
                    gateway_grpc_port=gateway_grpc_port,
                    port_range=parse_port_range(port_range),
                    backoff_cap=backoff_cap,
                    warm_standby=warm_standby,
                ),
                control_plane=ControlPlaneConfig(
                    api_port=api_port,
                    api_tls_port=api_tls_port,
                    domain=domain,
                    max_replicas=max_replicas,
                ),
                apply=tuple(apply or ()),
                api_only=api_only,
            )
            out = typer.get_text_stream("stdout")
            asyncio.run(_run(Platform(config, out=out), out=out))
        except MLServiceError as err:
            fail(err)


async def _run(platform: Platform, *, out: IO[str]) -> None:
    """`Platform.run`, plus the console's link once up, only on a terminal: the link holds
    the token, which must never land in a log file."""
    import asyncio
    import signal

    from mlservice.cli.ui import console_link

    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, platform.stop)
    try:
        async with platform:
            if out.isatty():
                link = console_link(platform.endpoints["api"], platform.token)
                print(f"mlservice console: {link}", file=out, flush=True)
            await platform.serve()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
