"""The data plane starts without loading the control plane: import-linter checks the source,
this checks what a replica process actually imports."""

from __future__ import annotations

import subprocess
import sys

CONTROL_PLANE = ("mlservice.api", "mlservice.store", "mlservice.controller", "mlservice.client")


def test_model_server_imports_no_control_plane_module() -> None:
    probe = (
        "import sys, mlservice.cli.serve, mlservice.server.runner;"
        f"print([m for m in sys.modules if m.startswith({CONTROL_PLANE!r})])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
