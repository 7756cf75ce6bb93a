"""Controllers: from stored objects to running replicas, status, events and routes.

`Controllers` (manager.py) is what `mls up` starts; the reconcilers (`mlservice.py`,
`simple.py`, `inferenceservice.py` for KServe's kind, each a `reconciler.TrackedReconciler`)
drive the engine through one `Track` per component (`track.py`); status (`status.py`,
`kserve_status.py`) and the gateway's routing snapshot (`routing.py`) are pure functions of
what the tracks report. `ScaleSource` is where the autoscaler's wishes come in; `RouteSink` is
where snapshots go.
"""

from mlservice.controller.builtin import install_builtin_runtimes
from mlservice.controller.manager import ControllerConfig, Controllers
from mlservice.controller.routing import MemorySink, RouteSink, build_snapshot
from mlservice.controller.scale import ManualScale, ScaleSource, replica_count

__all__ = [
    "ControllerConfig",
    "Controllers",
    "ManualScale",
    "MemorySink",
    "RouteSink",
    "ScaleSource",
    "build_snapshot",
    "install_builtin_runtimes",
    "replica_count",
]
