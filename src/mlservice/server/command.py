"""`mls serve`'s command line: its flags mapped 1:1 onto `ServerConfig`, then `runner.run`.

The command lives with the server, not in `cli/`, so that a warm standby
(`engine/local/warm.py`) can run a launch's `mls serve` argv in its own process without the
`mls` app: the engine must not import the CLI. `cli/serve.py` registers this same function as
`mls serve`, so both parse one set of flags.

KServe's ModelServer flags are accepted too, hidden from `--help`, so the args of a KServe
runtime YAML run `mls serve` unchanged: `--model_name`, `--model_dir` (for MODEL_DIR),
`--http_port`, `--grpc_port`, `--enable_grpc`, `--predictor_host`, `--predictor_protocol`
(and its older name `--protocol`); a KServe flag given wins over ours and over the environment.
The flags that tune KServe's own server are accepted and ignored with a note
(`config.KSERVE_NO_EFFECT`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import typer

from mlservice.errors import MLServiceError


def _kserve(flag: str, meaning: str = "no effect here") -> Any:
    """A hidden option with the spelling of KServe's ModelServer."""
    return typer.Option(None, flag, hidden=True, help=f"KServe's; {meaning}.")


def serve(
    model_dir: Path | None = typer.Argument(
        None,
        metavar="MODEL_DIR",
        help="Folder with one model file, or model.py; or a TorchServe .mar or model store.",
    ),
    name: str | None = typer.Option(
        None, "--name", help="Serve the model under this name (required)."
    ),
    format: str | None = typer.Option(
        None,
        "--format",
        help="sklearn|xgboost|lightgbm|onnx|pytorch|python|torchserve (default: detect).",
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
    model_name: str | None = _kserve("--model_name", "--name"),
    model_dir_flag: Path | None = _kserve("--model_dir", "MODEL_DIR"),
    http_port: int | None = _kserve("--http_port", "--port"),
    grpc_port_flag: int | None = _kserve("--grpc_port", "--grpc-port"),
    enable_grpc: str | None = _kserve("--enable_grpc", "false serves no gRPC"),
    predictor_host_flag: str | None = _kserve("--predictor_host", "--predictor-host"),
    predictor_protocol_flag: str | None = _kserve("--predictor_protocol", "--predictor-protocol"),
    protocol: str | None = _kserve("--protocol", "--predictor-protocol"),
    max_threads: str | None = _kserve("--max_threads"),
    max_asyncio_workers: str | None = _kserve("--max_asyncio_workers"),
    enable_docs_url: str | None = _kserve("--enable_docs_url"),
    enable_latency_logging: str | None = _kserve("--enable_latency_logging"),
    configure_logging: str | None = _kserve("--configure_logging"),
    log_config_file: str | None = _kserve("--log_config_file"),
    access_log_format: str | None = _kserve("--access_log_format"),
    nthread: str | None = _kserve("--nthread"),
) -> None:
    """Serve MODEL_DIR over KServe V1 and V2 REST (and V2 gRPC with --grpc-port).

    KServe's server flags (--model_name, --model_dir, --http_port, ...) work too."""
    from mlservice.server.config import ServerConfig
    from mlservice.server.forward import PredictorConfig
    from mlservice.server.runner import run

    name = model_name or name
    if name is None:
        raise typer.BadParameter("missing (or KServe's --model_name)", param_hint="'--name'")
    folder = _model_folder(model_dir, model_dir_flag)
    port = port if http_port is None else http_port
    grpc_port = grpc_port if grpc_port_flag is None else grpc_port_flag
    if enable_grpc is not None and not _kserve_bool("--enable_grpc", enable_grpc):
        grpc_port = None
    predictor_host = predictor_host_flag or predictor_host
    predictor_protocol = predictor_protocol_flag or protocol or predictor_protocol
    _note_no_effect(
        {
            "--max_threads": max_threads,
            "--max_asyncio_workers": max_asyncio_workers,
            "--enable_docs_url": enable_docs_url,
            "--enable_latency_logging": enable_latency_logging,
            "--configure_logging": configure_logging,
            "--log_config_file": log_config_file,
            "--access_log_format": access_log_format,
            "--nthread": nthread,
        }
    )
    if predictor_protocol not in (None, "v1", "v2"):
        _fail(f"--predictor-protocol {predictor_protocol!r} is not one of v1, v2.")
    predictor = None
    if predictor_host:
        predictor = PredictorConfig(predictor_host, predictor_protocol, predictor_host_header)
    config = ServerConfig(
        model_dir=folder,
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


def _model_folder(positional: Path | None, flag: Path | None) -> Path:
    if positional and flag and positional != flag:
        _fail(f"MODEL_DIR {positional} and --model_dir {flag} name different folders.")
    folder = positional or flag
    if folder is None:
        raise typer.BadParameter("missing (or KServe's --model_dir)", param_hint="'MODEL_DIR'")
    return folder


def _kserve_bool(flag: str, text: str) -> bool:
    from mlservice.server.config import kserve_bool

    try:
        return kserve_bool(text)
    except ValueError as exc:
        _fail(f"{flag}: {exc}.")


def _note_no_effect(given: dict[str, str | None]) -> None:
    from mlservice.server.config import KSERVE_NO_EFFECT

    for flag, value in given.items():
        if value is not None:
            why = KSERVE_NO_EFFECT[flag]
            typer.echo(f"mls serve: {flag} has no effect here ({why}).", err=True)


def _fail(message: str) -> NoReturn:
    typer.echo(f"mls serve: {message}", err=True)
    raise typer.Exit(1)
