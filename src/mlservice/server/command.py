"""`mls serve`'s command line: its flags mapped 1:1 onto `ServerConfig`, then `runner.run`.

The command lives with the server, not in `cli/`, so that a warm standby
(`engine/local/warm.py`) can run a launch's `mls serve` argv in its own process without the
`mls` app: the engine must not import the CLI. `cli/serve.py` registers this same function as
`mls serve`, so both parse one set of flags.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import typer

from mlservice.errors import MLServiceError


def serve(
    model_dir: Path = typer.Argument(..., help="Folder with one model file, or model.py."),
    name: str = typer.Option(..., "--name", help="Serve the model under this name."),
    format: str | None = typer.Option(
        None, "--format", help="sklearn|xgboost|lightgbm|onnx|pytorch|python (default: detect)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    port: int = typer.Option(8080, "--port", envvar="PORT", help="HTTP port (0: pick one)."),
    grpc_port: int | None = typer.Option(None, "--grpc-port", envvar="GRPC_PORT"),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes sharing the port."),
    max_batch_size: int = typer.Option(0, "--max-batch-size", min=0, help="0/1: no batching."),
    max_batch_delay_ms: float = typer.Option(5.0, "--max-batch-delay-ms", min=0.0),
    max_body_bytes: int = typer.Option(64 * 1024 * 1024, "--max-body-bytes", min=1),
    max_header_bytes: int = typer.Option(
        64 * 1024, "--max-header-bytes", min=1024, help="Request line and headers (431 past it)."
    ),
    read_timeout: float = typer.Option(
        30.0, "--read-timeout", min=0.1, help="Seconds a request may take to arrive (408 past it)."
    ),
    predictor_host: str | None = typer.Option(
        None, "--predictor-host", envvar="PREDICTOR_HOST", help="Transformer mode: HOST[:PORT]."
    ),
    predictor_protocol: str | None = typer.Option(
        None, "--predictor-protocol", help="v1|v2 (default: the incoming request's)."
    ),
    predictor_host_header: str | None = typer.Option(
        None, "--predictor-host-header", envvar="PREDICTOR_HOST_HEADER"
    ),
    release: str | None = typer.Option(None, "--release", envvar="MLS_RELEASE", hidden=True),
) -> None:
    """Serve MODEL_DIR over KServe V1 and V2 REST (and V2 gRPC with --grpc-port)."""
    from mlservice.server.config import ServerConfig
    from mlservice.server.forward import PredictorConfig
    from mlservice.server.runner import run

    if predictor_protocol not in (None, "v1", "v2"):
        _fail(f"--predictor-protocol {predictor_protocol!r} is not one of v1, v2.")
    predictor = None
    if predictor_host:
        predictor = PredictorConfig(predictor_host, predictor_protocol, predictor_host_header)
    config = ServerConfig(
        model_dir=model_dir,
        name=name,
        format=format,
        host=host,
        port=port,
        grpc_port=grpc_port,
        workers=workers,
        max_batch_size=max_batch_size,
        max_batch_delay_ms=max_batch_delay_ms,
        max_body_bytes=max_body_bytes,
        max_header_bytes=max_header_bytes,
        read_timeout=read_timeout,
        predictor=predictor,
        release=release or None,
    )
    try:
        code = run(config)
    except MLServiceError as exc:
        _fail(exc.message)
    raise typer.Exit(code)


def main(args: Sequence[str]) -> NoReturn:
    """Run `mls serve ARGS...` in this process, exactly as the `mls` program would, and exit."""
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    app.command(name="serve")(serve)
    typer.main.get_command(app).main(args=list(args), prog_name="mls serve")
    raise SystemExit(0)  # not reached: the command exits with its own code


def _fail(message: str) -> NoReturn:
    typer.echo(f"mls serve: {message}", err=True)
    raise typer.Exit(1)
