"""What `mls up` runs with: a value, each flag one field (uvicorn's `Config`/`Server` split)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlservice.home import Home

DEFAULT_API_TLS_PORT = 6443
"""kube-apiserver's port: see `ControlPlaneConfig.api_tls_port`."""
DEFAULT_GATEWAY_GRPC_PORT = 8081
"""The gateway's gRPC port: see `DataPlaneConfig.gateway_grpc_port`."""


@dataclass(frozen=True)
class DataPlaneConfig:
    """The gateway and the replica processes: `mls up`'s data-plane flags."""

    gateway_port: int = 8080
    """Loopback port of the gateway: 8080, the port the docs' curl commands use (as KServe's
    examples do); 0 picks a free one (see `endpoints.json`)."""
    gateway_grpc_port: int | None = None
    """Loopback port of the gateway's gRPC (h2c) listener. None: 8081, or a free one when
    8081 is taken (`mls up` says so; `endpoints.json` records it as `gateway_grpc`); 0 picks a
    free one; any other port in use is an error."""
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
    api_tls_port: int | None = None
    """Loopback port of the API's TLS listener, the one the kubeconfig names (kubectl sends
    its token only over TLS). None: 6443, kube-apiserver's own port, as kubeconfigs and
    tutorials expect; when it is taken (a kind or minikube cluster), `mls up` says so and
    picks a free one rather than refusing to start. 0 picks a free one; any other port in use
    is an error, as for `api_port`."""
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


def control_plane_args(config: PlatformConfig) -> str:
    """What the control-plane child needs of the config, as one JSON argument."""
    return json.dumps(
        {
            "home": str(config.home.root),
            "control_plane": asdict(config.control_plane),
            "data_plane": asdict(config.data_plane),
        }
    )


def parse_control_plane_args(text: str) -> PlatformConfig:
    data: dict[str, Any] = json.loads(text)
    plane = dict(data["data_plane"])
    plane["port_range"] = tuple(plane["port_range"])
    return PlatformConfig(
        home=Home(Path(data["home"])),
        data_plane=DataPlaneConfig(**plane),
        control_plane=ControlPlaneConfig(**data["control_plane"]),
    )
