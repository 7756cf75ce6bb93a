"""The real `mls operator` starts against kmock, finds our kinds and adopts a service's children."""

from __future__ import annotations

from pathlib import Path

from tests.engine.kube.operator.kube_mock import KubeMock, operator
from tests.support.polling import wait_until

SERVICE = {
    "apiVersion": "tensorstack.dev/v1beta1",
    "kind": "MLService",
    "metadata": {"name": "iris", "namespace": "default", "uid": "uid-iris", "generation": 1},
    "spec": {
        "default": "v1",
        "releases": [
            {
                "name": "v1",
                "predictor": {"model": {"runtime": "sklearn", "modelUri": "pvc://m/iris"}},
            }
        ],
    },
}


def test_the_operator_starts_and_adopts_a_configuration(kube: KubeMock, tmp_path: Path) -> None:
    with operator(kube, tmp_path) as log:
        kube.create(SERVICE)
        config = wait_until(
            lambda: kube.get(
                "serving.knative.dev/v1", "configurations", "default", "iris-predict-v1"
            ),
            timeout=15,
            message=lambda: f"the Configuration; operator log:\n{log.read_text()}",
        )
    [owner] = config["metadata"]["ownerReferences"]
    assert owner["uid"] == "uid-iris"
    assert owner["controller"] is True
    assert owner["kind"] == "MLService"
