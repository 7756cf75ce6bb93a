"""A TorchServe model store on disk and the `config.properties` our TorchServe runs with.

A store is either the reference's layout (`config/config.properties` + `model-store/*.mar`) or
a folder of `.mar` files. The user's properties are kept (model_snapshot, load_models, worker
and batch settings, ...) except those that place TorchServe on this machine: its addresses and
ports (loopback ones of its own, the inference one behind the adapter), `model_store` (the
local folder), token authorization (on, with keys that outlive the replica) and
`service_envelope` (the adapter unwraps KServe's envelopes; TorchServe's own would break
`/predictions` calls with raw bodies).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MODEL_STORE = "model-store"
CONFIG_FILE = Path("config") / "config.properties"

OVERRIDDEN = (
    "inference_address",
    "management_address",
    "metrics_address",
    "grpc_inference_address",
    "grpc_inference_port",
    "grpc_management_address",
    "grpc_management_port",
    "model_store",
    "disable_token_authorization",
    "token_expiration_min",
    "enable_model_api",
    "initial_worker_port",
    "service_envelope",
)

TOKEN_MINUTES = 60 * 24 * 366
"""TorchServe 0.12's inference key expires after 60 minutes by default; the adapter reads it
once, so it is made to last longer than any replica."""


@dataclass(frozen=True)
class Store:
    """Where the archives are, and the user's config.properties if the store has one."""

    archives: Path
    config: Path | None


@dataclass(frozen=True)
class Ports:
    """TorchServe's own loopback ports (`grpc_inference` is the replica's gRPC port)."""

    inference: int
    management: int
    metrics: int
    grpc_inference: int
    grpc_management: int
    worker: int


def find_store(folder: Path) -> Store:
    """The store in `folder`: `model-store/` beside `config/`, else the folder itself."""
    archives = folder / MODEL_STORE if (folder / MODEL_STORE).is_dir() else folder
    config = folder / CONFIG_FILE
    return Store(archives=archives, config=config if config.is_file() else None)


def parse(text: str) -> dict[str, str]:
    """Java properties as TorchServe's files use them: `key=value` (or `key: value`) lines,
    `#`/`!` comments, a trailing backslash continuing a line."""
    out: dict[str, str] = {}
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if not line or line[0] in "#!":
            continue
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        if cut < 0:
            out[line] = ""
        else:
            out[line[:cut].strip()] = line[cut + 1 :].strip()
    return out


def http_url(host: str, port: int) -> str:
    """`http://host:port`, an IPv6 literal in brackets. (KServe's wrapper once printed
    "http//0.0.0.0:8085": addresses are built here, never pasted together.)"""
    try:
        bracket = isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address)
    except ValueError:
        bracket = False
    return f"http://[{host}]:{port}" if bracket else f"http://{host}:{port}"


def our_properties(user: Mapping[str, str], *, store: Path, ports: Ports) -> dict[str, str]:
    """The properties TorchServe runs with: the user's, placed on this machine's ports."""
    kept = {k: v for k, v in user.items() if k not in OVERRIDDEN}
    loopback = "127.0.0.1"
    return {
        **kept,
        "inference_address": http_url(loopback, ports.inference),
        "management_address": http_url(loopback, ports.management),
        "metrics_address": http_url(loopback, ports.metrics),
        "grpc_inference_address": loopback,
        "grpc_inference_port": str(ports.grpc_inference),
        "grpc_management_address": loopback,
        "grpc_management_port": str(ports.grpc_management),
        "initial_worker_port": str(ports.worker),
        "model_store": str(store),
        "enable_model_api": "true",
        "disable_token_authorization": "false",
        "token_expiration_min": str(TOKEN_MINUTES),
    }


def render(properties: Mapping[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in properties.items())
