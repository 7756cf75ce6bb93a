"""`mls serve` settings as one value; the CLI maps onto it flag for flag.

KServe's runtime YAMLs pass its ModelServer's flags (`--model_name`, `--model_dir`,
`--http_port`, `--grpc_port`, `--workers`, ...): `mls serve` takes them as aliases, so a copied
runtime runs unchanged. The few that tune KServe's own server are accepted and have no effect
here (`KSERVE_NO_EFFECT` says why); `--enable_grpc` takes KServe's boolean spellings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlservice.server.forward import PredictorConfig

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_READ_TIMEOUT = 30.0

KSERVE_NO_EFFECT: dict[str, str] = {
    "--max_threads": "gRPC requests run on the server's event loop",
    "--max_asyncio_workers": "the server sizes its own thread pool",
    "--enable_docs_url": "the server has no Swagger UI",
    "--enable_latency_logging": "latency is in the metrics at /metrics",
    "--configure_logging": "logging is the server's own",
    "--log_config_file": "logging is the server's own",
    "--access_log_format": "logging is the server's own",
    "--nthread": "XGBoost and LightGBM pick their thread count",
}
"""KServe server flags `mls serve` accepts and ignores, with the reason it prints."""

_TRUE = frozenset({"y", "yes", "t", "true", "on", "1"})
_FALSE = frozenset({"n", "no", "f", "false", "off", "0"})


def kserve_bool(text: str) -> bool:
    """A boolean flag value as KServe's `strtobool` reads it; ValueError otherwise."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean (true/false, yes/no, on/off, 1/0)")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    model_dir: Path
    """A folder holding one model file (or `model.py`), or the model file itself."""
    name: str
    """The name the model is served under (`/v1/models/{name}`, `/v2/models/{name}`)."""
    format: str | None = None
    """Skip detection and load this format; needed only when a folder is ambiguous."""
    host: str = "127.0.0.1"
    """Loopback by default: replicas sit behind the gateway, not on the network."""
    port: int = 8080
    """HTTP port; 0 picks a free one (single worker only) and the log line says which."""
    grpc_port: int | None = None
    """V2 gRPC port, served by the gRPC adapter when it is installed."""
    workers: int = 1
    """Processes sharing the port (SO_REUSEPORT), each with its own copy of the model."""
    max_batch_size: int = 0
    """Rows per merged predict call; below 2 turns batching off."""
    max_batch_delay_ms: float = 5.0
    """How long a request may wait for others to batch with; a small delay keeps p99 low."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """Larger request bodies get 413 before they are read."""
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    """A larger request line and header block gets 431 and the connection is closed."""
    read_timeout: float = DEFAULT_READ_TIMEOUT
    """Seconds a request may take to arrive, head and body; past it, 408 and the connection
    is closed, so a body that stops short cannot hold a connection."""
    predictor: PredictorConfig | None = None
    """Transformer mode: where the default predict forwards to."""
    release: str | None = None
    """Sent as `x-mls-release` (from `MLS_RELEASE`), unless a predictor's answer carries one."""
    reuse_port: bool = False
    """Set on the processes the worker supervisor starts, so they can share the port."""

    @property
    def batching(self) -> bool:
        return self.max_batch_size >= 2
