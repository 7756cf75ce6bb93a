"""mlservice: model serving from one YAML manifest, on a laptop or a cluster.

The public surface is re-exported here; everything else is internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlservice._version import __version__
from mlservice.model import Model, ModelServer

if TYPE_CHECKING:
    from mlservice.client import AsyncClient, Client

__all__ = ["AsyncClient", "Client", "Model", "ModelServer", "__version__"]


def __getattr__(name: str) -> Any:
    # The SDK is imported on first use: model servers import this package on every replica
    # start and have no use for the control-plane client.
    if name in ("AsyncClient", "Client"):
        from mlservice import client

        return getattr(client, name)
    raise AttributeError(f"module 'mlservice' has no attribute {name!r}")
