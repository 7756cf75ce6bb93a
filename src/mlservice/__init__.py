"""mlservice: model serving from one YAML manifest, on a laptop or a cluster.

The public surface is re-exported here; everything else is internal.
"""

from mlservice._version import __version__
from mlservice.model import Model, ModelServer

__all__ = ["Model", "ModelServer", "__version__"]
