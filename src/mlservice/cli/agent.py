"""`mls agent`: a pod's sidecar in front of its model server (`gateway/agent.py`).

The pod's identity comes from flags or from the variables the local engine gives every replica
(`MLS_SERVICE`, `MLS_NAMESPACE`, `MLS_COMPONENT`, `MLS_RELEASE`), so a rendered pod may set
either. Component names are ours (`predict`, `transform`) or KServe's (`predictor`,
`transformer`).

Batching: `--max-batch-size` and `--max-latency` are accepted, as KServe's agent takes them,
but the agent forwards requests one by one: batching is the model server's (`mls serve
--max-batch-size N --max-batch-delay-ms MS`), which batches inside its inference thread
without a second parse of every payload. The agent says so once at start.
"""

from __future__ import annotations

import re
from typing import Annotated, NoReturn, cast, get_args

import typer

from mlservice.gateway.snapshot import Component, EventFlavor, LoggerMode

_COMPONENTS: dict[str, Component] = {
    "predict": "predict",
    "predictor": "predict",
    "transform": "transform",
    "transformer": "transform",
}
_ADDRESS = re.compile(r"^([^:\s/]+):(\d{1,5})$")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def agent(
    upstream: Annotated[
        str, typer.Option("--upstream", help="The model server, HOST:PORT (127.0.0.1:8080).")
    ],
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")],
    address: Annotated[str, typer.Option("--address", help="Address to bind.")] = "0.0.0.0",
    service: Annotated[
        str, typer.Option("--service", envvar="MLS_SERVICE", help="Service name (events).")
    ] = "",
    namespace: Annotated[
        str, typer.Option("--namespace", envvar="MLS_NAMESPACE", help="Namespace (events).")
    ] = "default",
    component: Annotated[
        str,
        typer.Option(
            "--component-name",
            envvar="MLS_COMPONENT",
            help="predict|transform (KServe's predictor|transformer too).",
        ),
    ] = "predict",
    release: Annotated[
        str,
        typer.Option("--release", envvar="MLS_RELEASE", help="Release; empty for a transformer."),
    ] = "",
    kind: Annotated[
        str,
        typer.Option(
            "--kind", help="Whose events: mlservice (ours) or kserve (an InferenceService's)."
        ),
    ] = "mlservice",
    logger_url: Annotated[
        list[str] | None,
        typer.Option("--logger-url", help="Request-log sink (CloudEvents, binary); repeatable."),
    ] = None,
    logger_mode: Annotated[
        str, typer.Option("--logger-mode", help="all|request|response.")
    ] = "all",
    request_logs: Annotated[
        str | None,
        typer.Option("--request-logs", help="Also append every event to this folder (JSON lines)."),
    ] = None,
    container_concurrency: Annotated[
        int,
        typer.Option("--container-concurrency", min=0, help="Requests at once upstream; 0: any."),
    ] = 0,
    timeout_seconds: Annotated[
        float, typer.Option("--timeout-seconds", min=0.001, help="Answer within this, else 504.")
    ] = 300.0,
    header_timeout: Annotated[
        float, typer.Option("--header-timeout", min=0.001, help="Request head within (408).")
    ] = 30.0,
    body_timeout: Annotated[
        float, typer.Option("--body-timeout", min=0.001, help="Longest body stall (408).")
    ] = 30.0,
    drain_seconds: Annotated[
        float,
        typer.Option("--drain-seconds", min=0.0, help="On SIGTERM, requests in flight get this."),
    ] = 20.0,
    max_batch_size: Annotated[
        int | None,
        typer.Option("--max-batch-size", min=1, help="Accepted; the model server batches."),
    ] = None,
    max_latency: Annotated[
        float | None,
        typer.Option("--max-latency", min=0.0, help="Accepted (ms); the model server batches."),
    ] = None,
) -> None:
    """Proxy one model server as the gateway does (limits, request log): a pod's sidecar."""
    import asyncio
    import logging
    from pathlib import Path

    import uvloop

    from mlservice.errors import MLServiceError
    from mlservice.gateway.agent import AgentSpec, serve_agent
    from mlservice.gateway.config import GatewayConfig
    from mlservice.gateway.snapshot import LoggerSpec
    from mlservice.gateway.sockets import bind_tcp

    match = _ADDRESS.match(upstream)
    if match is None or not 0 < int(match.group(2)) < 65536:
        _fail(f"--upstream {upstream!r} is not HOST:PORT (e.g. 127.0.0.1:8080).")
    if component not in _COMPONENTS:
        _fail(f"--component-name {component!r} is not one of {', '.join(_COMPONENTS)}.")
    if kind not in get_args(EventFlavor):
        _fail(f"--kind {kind!r} is not one of {', '.join(get_args(EventFlavor))}.")
    if logger_mode not in get_args(LoggerMode):
        _fail(f"--logger-mode {logger_mode!r} is not one of {', '.join(get_args(LoggerMode))}.")
    if not service:
        _fail("--service (or MLS_SERVICE) is required: request-log events name it.")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    if max_batch_size is not None or max_latency is not None:
        logging.getLogger("mlservice.gateway").warning(
            "mls agent: requests pass through unbatched; batching is the model server's "
            "(mls serve --max-batch-size N --max-batch-delay-ms MS)"
        )
    urls = tuple(logger_url or ())
    spec = AgentSpec(
        upstream=upstream,
        namespace=namespace,
        service=service,
        component=_COMPONENTS[component],
        release=release,
        logger=LoggerSpec(
            urls=urls, mode=cast(LoggerMode, logger_mode), flavor=cast(EventFlavor, kind)
        )
        if urls or request_logs
        else None,
        container_concurrency=container_concurrency,
        timeout_seconds=timeout_seconds,
    )
    config = GatewayConfig(
        request_logs=Path(request_logs) if request_logs else None,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
    )
    try:
        sock = bind_tcp(address, port, what="agent")
    except MLServiceError as exc:
        _fail(exc.message)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve_agent(spec, config, sock=sock, drain_seconds=drain_seconds))


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command(name="agent")(agent)
