"""Running the stock kubectl in tests: against a kubeconfig, with its own discovery cache, and a
non-interactive editor for `kubectl edit`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.kubectl import kubectl_path


def kubectl(
    kubeconfig: Path,
    *args: str,
    cache: Path,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """kubectl with its discovery cache in `cache`, so no earlier server's answers leak in."""
    return subprocess.run(
        [kubectl_path(), "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def editor(folder: Path, expression: str) -> dict[str, str]:
    """A non-interactive KUBE_EDITOR running one sed expression on the file kubectl opens,
    keeping each file it was shown in `editor.log` (kubectl reopens it with the errors)."""
    script = folder / "editor.sh"
    log = folder / "editor.log"
    script.write_text(f"#!/bin/sh\ncat \"$1\" >> '{log}'\nexec sed -i '{expression}' \"$1\"\n")
    script.chmod(0o700)
    # TMPDIR: kubectl keeps a copy of a failed edit there.
    return {"KUBE_EDITOR": str(script), "TMPDIR": str(folder)}
