"""The stock kubectl against a real `mls up --api-only`: `get` prints the Tables the API
serves, with `mls get`'s columns and KServe's for InferenceService."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mlservice.cli.background import UpProcess
from tests.api.app_client import mlservice
from tests.cli.test_cli_kserve_output import ROLLING
from tests.resources.kserve_manifests import isvc
from tests.support.kubectl import kubectl_path, needs_kubectl
from tests.support.up import API_ONLY_ARGS, namespace_name, up_process

pytestmark = needs_kubectl()


@pytest.fixture(scope="module")
def mls_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    # The API alone: the test writes the status controllers would.
    with up_process(tmp_path_factory.mktemp("home"), args=API_ONLY_ARGS) as up:
        yield up


@pytest.fixture
def api(mls_up: UpProcess) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {mls_up.token}"}
    with httpx.Client(base_url=mls_up.api, headers=headers, timeout=30) as client:
        yield client


def kubectl(up: UpProcess, *args: str) -> list[list[str]]:
    """`kubectl ARGS...` with the kubeconfig alone; its output split into words per line."""
    done = subprocess.run(
        [kubectl_path(), "--kubeconfig", str(up.home.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(up.home.root)},
    )
    assert done.returncode == 0, done.stderr
    return [line.split() for line in done.stdout.splitlines()]


def _created(api: httpx.Client, url: str, manifest: dict[str, Any]) -> dict[str, Any]:
    answer = api.post(url, json=manifest)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def test_kubectl_gets_mlservices_across_namespaces(
    mls_up: UpProcess, api: httpx.Client, request: pytest.FixtureRequest
) -> None:
    namespace = namespace_name(request)
    _created(
        api, f"/apis/tensorstack.dev/v1beta1/namespaces/{namespace}/mlservices", mlservice("iris")
    )
    lines = kubectl(mls_up, "get", "mlservices", "-A")
    assert lines[0] == ["NAMESPACE", "NAME", "READY", "URL", "DEFAULT", "CANARY", "AGE"]
    [row] = [line for line in lines[1:] if line[0] == namespace]
    assert row[:3] == [namespace, "iris", "v1"]  # blank READY, URL and CANARY print nothing
    wide = kubectl(mls_up, "get", "mlsvc", "-n", namespace, "-o", "wide")
    assert wide[0] == ["NAME", "READY", "URL", "DEFAULT", "CANARY", "AGE", "RELEASES", "GENERATION"]
    assert wide[1][-1] == "-/1"


def test_kubectl_gets_inference_services_with_kserves_columns(
    mls_up: UpProcess, api: httpx.Client, request: pytest.FixtureRequest
) -> None:
    namespace = namespace_name(request)
    url = f"/apis/serving.kserve.io/v1beta1/namespaces/{namespace}/inferenceservices"
    created = _created(api, url, isvc())
    created["status"] = ROLLING["status"]
    assert api.put(f"{url}/sklearn-iris/status", json=created).status_code == 200
    lines = kubectl(mls_up, "get", "isvc", "-n", namespace)
    assert lines[0] == ["NAME", "URL", "READY", "PREV", "LATEST", "AGE"]
    assert lines[1][:5] == [
        "sklearn-iris",
        "http://sklearn-iris.team.localhost:8080",
        "True",
        "90",
        "10",
    ]
    one = kubectl(mls_up, "get", "inferenceservice", "sklearn-iris", "-n", namespace, "-o", "wide")
    assert one[0] == [
        "NAME",
        "URL",
        "READY",
        "PREV",
        "LATEST",
        "PREVROLLEDOUTREVISION",
        "LATESTREADYREVISION",
        "AGE",
    ]
    assert one[1][5:7] == ["sklearn-iris-predictor-00001", "sklearn-iris-predictor-00002"]


def test_kubectl_watches_rows_as_they_change(
    mls_up: UpProcess, api: httpx.Client, request: pytest.FixtureRequest
) -> None:
    namespace = namespace_name(request)
    url = f"/apis/tensorstack.dev/v1beta1/namespaces/{namespace}/mlservices"
    _created(api, url, mlservice("first"))
    args = ["get", "mlsvc", "-n", namespace, "-w", "--output-watch-events"]
    with subprocess.Popen(
        [kubectl_path(), "--kubeconfig", str(mls_up.home.kubeconfig), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(mls_up.home.root)},
    ) as watching:
        assert watching.stdout is not None
        try:
            header = watching.stdout.readline().split()
            listed = watching.stdout.readline().split()
            _created(api, url, mlservice("second"))
            # kubectl may print the listed object's ADDED again before the new one.
            while (watched := watching.stdout.readline().split())[:2] != ["ADDED", "second"]:
                assert watched, "kubectl stopped watching"
        finally:
            watching.kill()
    assert header == ["EVENT", "NAME", "READY", "URL", "DEFAULT", "CANARY", "AGE"]
    assert listed[:3] == ["ADDED", "first", "v1"]
    assert watched[:3] == ["ADDED", "second", "v1"]


def test_kubectl_gets_core_kinds_with_kubernetes_columns(
    mls_up: UpProcess, api: httpx.Client, request: pytest.FixtureRequest
) -> None:
    namespace = namespace_name(request)
    secret = {"metadata": {"name": "s3"}, "type": "Opaque", "data": {"a": "eA=="}}
    _created(api, f"/api/v1/namespaces/{namespace}/secrets", secret)
    claim = {
        "metadata": {"name": "models"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    _created(api, f"/api/v1/namespaces/{namespace}/persistentvolumeclaims", claim)
    secrets = kubectl(mls_up, "get", "secrets", "-n", namespace)
    assert secrets[0] == ["NAME", "TYPE", "DATA", "AGE"]
    assert secrets[1][:3] == ["s3", "Opaque", "1"]
    claims = kubectl(mls_up, "get", "pvc", "-n", namespace)
    assert " ".join(claims[0]).startswith("NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS")
    assert claims[1][:2] == ["models", "Bound"]
