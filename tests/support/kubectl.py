"""The stock kubectl the kubectl tests drive. It ships with this project's machine image (apt
package `kubectl`); Debian's own `kubernetes-client` (1.20) is too old for what kubectl 1.32
asks (aggregated discovery, OpenAPI v3), so the set-up checks for it instead of installing it
(`make test` prints which one it found). Off CI a missing kubectl skips those tests; on CI
(`CI=true`) it fails them, so a machine without it cannot pass unnoticed."""

from __future__ import annotations

import os
import shutil

import pytest

KUBECTL = shutil.which("kubectl")
MISSING = "kubectl is not installed (see tests/support/kubectl.py)"


def needs_kubectl() -> pytest.MarkDecorator:
    """A mark for tests that run kubectl: skipped without it, except on CI."""
    return pytest.mark.skipif(KUBECTL is None and not os.environ.get("CI"), reason=MISSING)


def kubectl_path() -> str:
    """kubectl's path; a test failure naming what is missing when there is none (on CI)."""
    assert KUBECTL is not None, MISSING
    return KUBECTL
