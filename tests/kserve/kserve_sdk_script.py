"""Run by `.venv-kserve/bin/python` (KServe's SDK needs kubernetes<37, so it cannot share the
dev venv): drives `mls up` through `kserve.KServeClient` exactly as a KServe user's script
does, and prints what it saw as one JSON document. Argument: the kubeconfig, the namespace."""

import json
import sys

from kserve import (
    KServeClient,
    V1beta1InferenceService,
    V1beta1InferenceServiceSpec,
    V1beta1PredictorSpec,
    V1beta1SKLearnSpec,
    constants,
)
from kubernetes.client import V1ObjectMeta


def main(config_file: str, namespace: str) -> None:
    client = KServeClient(config_file=config_file)
    seen = {}
    typed = V1beta1InferenceService(
        api_version=constants.KSERVE_V1BETA1,
        kind=constants.KSERVE_KIND_INFERENCESERVICE,
        metadata=V1ObjectMeta(name="sklearn-iris", namespace=namespace),
        spec=V1beta1InferenceServiceSpec(
            predictor=V1beta1PredictorSpec(
                sklearn=V1beta1SKLearnSpec(storage_uri="pvc://models/iris")
            )
        ),
    )
    created = client.create(typed)
    seen["created"] = created["metadata"]["name"]
    as_dict = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "from-dict", "namespace": namespace},
        "spec": {
            "predictor": {
                "model": {"modelFormat": {"name": "sklearn"}, "storageUri": "pvc://models/iris"}
            }
        },
    }
    # KServeClient.create reads `.api_version` (0.21 takes objects only); a dict goes through
    # the SDK's own CustomObjectsApi, as KServe's docs do for YAML loaded into a dict.
    made = client.api_instance.create_namespaced_custom_object(
        constants.KSERVE_GROUP,
        "v1beta1",
        namespace,
        constants.KSERVE_PLURAL_INFERENCESERVICE,
        as_dict,
    )
    seen["created_dict"] = made["metadata"]["name"]
    got = client.get("sklearn-iris", namespace=namespace)
    seen["format"] = got["spec"]["predictor"]["model"]["modelFormat"]["name"]
    listed = client.get(namespace=namespace)
    seen["listed"] = sorted(item["metadata"]["name"] for item in listed["items"])
    typed.spec.predictor.canary_traffic_percent = 10
    patched = client.patch("sklearn-iris", typed, namespace=namespace)
    seen["canary"] = patched["spec"]["predictor"].get("canaryTrafficPercent")
    client.delete("sklearn-iris", namespace=namespace)
    client.delete("from-dict", namespace=namespace)
    seen["after_delete"] = client.get(namespace=namespace)["items"]
    print(json.dumps(seen))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
