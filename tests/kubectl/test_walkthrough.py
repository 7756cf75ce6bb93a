"""The reference's walk-through (`kserve-torchserve-on-kubeflow.ru.md`), its kubectl commands
unchanged, against a whole `mls up` through the kubeconfig it writes: apply an
InferenceService, `get inferenceservices --all-namespaces` with KServe's columns, `get pods`,
the storage-initializer's and the server's logs, `delete inferenceservice` and the pods go."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlservice.cli.background import UpProcess
from tests.kubectl.platform import (
    ISVC_READY_WITHIN,
    iris_volume,
    isvc_yaml,
    kubectl_ok,
    kubectl_run,
    pod_rows,
)
from tests.support.kubectl import needs_kubectl
from tests.support.polling import wait_until
from tests.support.up import namespace_name

pytestmark = [needs_kubectl(), pytest.mark.e2e]

GONE_WITHIN = 30.0


@pytest.mark.timeout(180)
def test_the_reference_walk_through_runs_unchanged(
    platform: UpProcess, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    namespace = namespace_name(request, limit=30)
    uri = iris_volume(platform, namespace)
    manifest = isvc_yaml("sklearn-iris", uri, path=tmp_path / "isvc.yaml")
    applied = kubectl_ok(platform, "apply", "-f", str(manifest), "-n", namespace)
    assert applied.strip() == "inferenceservice.serving.kserve.io/sklearn-iris created"

    # microk8s kubectl get inferenceservices --all-namespaces
    def listed() -> list[str] | None:
        lines = kubectl_ok(platform, "get", "inferenceservices", "--all-namespaces").splitlines()
        assert lines[0].split() == [
            "NAMESPACE", "NAME", "URL", "READY", "PREV", "LATEST", "AGE"
        ]  # fmt: skip
        row = next((line.split() for line in lines[1:] if line.split()[0] == namespace), None)
        return row if row is not None and row[3] == "True" else None

    row = wait_until(listed, timeout=ISVC_READY_WITHIN, interval=0.5, message="Ready isvc")
    assert row[1] == "sklearn-iris"
    assert row[2].startswith(f"http://sklearn-iris.{namespace}.localhost")
    assert row[4] == "100"  # LATEST (PREV, blank, prints nothing)

    # microk8s kubectl get pods -n $NAMESPACE
    rows = pod_rows(platform, namespace)
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    [pod] = rows[1:]
    assert re.fullmatch(r"sklearn-iris-predictor-00001-deployment-[a-z0-9]{5}", pod[0])
    assert pod[1:4] == ["1/1", "Running", "0"]

    # POD=$(microk8s kubectl get pods -n $NAMESPACE | grep -Eo "(sklearn-iris[_A-Za-z0-9-]+)")
    listing = kubectl_ok(platform, "get", "pods", "-n", namespace)
    [name] = re.findall(r"(sklearn-iris[_A-Za-z0-9-]+)", listing)

    # microk8s kubectl logs -n $NAMESPACE $POD -c storage-initializer
    fetched = kubectl_ok(platform, "logs", "-n", namespace, name, "-c", "storage-initializer")
    assert f"fetching {uri}" in fetched

    # microk8s kubectl logs -n $NAMESPACE $POD -c kserve-container --tail 50
    server = kubectl_ok(
        platform, "logs", "-n", namespace, name, "-c", "kserve-container", "--tail", "50"
    )
    assert "model sklearn-iris is ready" in server
    assert 0 < len(server.splitlines()) <= 50

    # microk8s kubectl delete inferenceservice sklearn-iris -n $NAMESPACE
    deleted = kubectl_ok(platform, "delete", "inferenceservice", "sklearn-iris", "-n", namespace)
    assert deleted.strip() == 'inferenceservice.serving.kserve.io "sklearn-iris" deleted'

    def no_pods() -> bool:
        done = kubectl_run(platform, "get", "pods", "-n", namespace)
        return done.returncode == 0 and done.stdout == ""

    wait_until(no_pods, timeout=GONE_WITHIN, interval=0.25, message="the pods to go")
    everywhere = kubectl_ok(platform, "get", "inferenceservices", "--all-namespaces")
    assert namespace not in everywhere
