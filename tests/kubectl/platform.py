"""A whole `mls up` (controllers, replicas, gateway) for the kubectl tests that read replicas as
Pods, shared by their modules (`conftest.py`), and kubectl run against its kubeconfig."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from mlservice.cli.background import UpProcess
from tests.support.iris import iris_joblib
from tests.support.kubectl import kubectl_path

ISVC_READY_WITHIN = 60.0


def kubectl_run(
    up: UpProcess, *args: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`kubectl ARGS...` with the kubeconfig `mls up` wrote and nothing else of ours."""
    return subprocess.run(
        [kubectl_path(), "--kubeconfig", str(up.home.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "HOME": str(up.home.root)},
        check=False,
    )


def kubectl_ok(up: UpProcess, *args: str, stdin: str | None = None) -> str:
    done = kubectl_run(up, *args, stdin=stdin)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def iris_volume(up: UpProcess, volume: str) -> str:
    """An iris model in volume `volume`; its `pvc://` URI."""
    folder = up.home.volume(volume) / "iris"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.joblib").write_bytes(iris_joblib())
    return f"pvc://{volume}/iris"


def isvc_yaml(name: str, uri: str, *, path: Path) -> Path:
    """The reference's manifest shape: an sklearn predictor with a storageUri, as a file."""
    manifest: dict[str, Any] = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {"predictor": {"sklearn": {"storageUri": uri}}},
    }
    path.write_text(yaml.safe_dump(manifest))
    return path


def pod_rows(up: UpProcess, namespace: str) -> list[list[str]]:
    """`kubectl get pods -n NS` as words per line, header first ([] when none)."""
    return [line.split() for line in kubectl_ok(up, "get", "pods", "-n", namespace).splitlines()]
