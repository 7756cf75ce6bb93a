"""The seam between the platform's halves: all the control plane may use of the data plane."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from mlservice.controller import RouteSink
from mlservice.engine import Engine
from mlservice.gateway.link import SignalListener


@dataclass(frozen=True)
class DataPlaneAddresses:
    """What the data plane bound, known before it starts (port 0 resolved)."""

    gateway: str
    """Where clients send requests, `http://127.0.0.1:PORT`."""
    gateway_admin: str
    """The admin channel: routes (with the API token), signals, `/metrics`."""
    gateway_port: int
    """The gateway's port, written into status URLs and a transformer's `PREDICTOR_HOST`."""


class DataPlane(Protocol):
    """All the control plane may use of the data plane (see the module docstring)."""

    @property
    def engine(self) -> Engine:
        """The replica spawner the controllers drive."""
        ...

    @property
    def routes(self) -> RouteSink:
        """Where the controllers' routing snapshots go."""
        ...

    @property
    def addresses(self) -> DataPlaneAddresses: ...

    def subscribe(self, listener: SignalListener) -> Callable[[], None]:
        """The gateway's load reports and activations, for the autoscaler; returns the
        unsubscribe function."""
        ...
