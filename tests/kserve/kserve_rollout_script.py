"""Run by `.venv-kserve/bin/python` against a full `mls up` (controllers and replicas): the
rollout a KServe user scripts with `KServeClient`. Creates an sklearn iris InferenceService on
a volume, waits for it to be Ready, patches a new storageUri with canaryTrafficPercent 10,
promotes it (replace without the percent), deletes it; prints what it saw as one JSON
document. Arguments: the kubeconfig, the namespace, the two model URIs."""

import json
import sys
import time

from kserve import (
    KServeClient,
    V1beta1InferenceService,
    V1beta1InferenceServiceSpec,
    V1beta1PredictorSpec,
    V1beta1SKLearnSpec,
    constants,
)
from kubernetes.client import V1ObjectMeta

NAME = "sklearn-iris"
WITHIN = 90.0


def poll(client, namespace, check, what):
    """The InferenceService once `check(obj)` holds, polled as a user's script would."""
    deadline = time.monotonic() + WITHIN
    while True:
        obj = client.get(NAME, namespace=namespace)
        if check(obj):
            return obj
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} not seen within {WITHIN} s: {json.dumps(obj['status'])}")
        time.sleep(0.2)


def predictor(obj):
    return obj["status"]["components"]["predictor"]


def main(config_file, namespace, first, second):
    client = KServeClient(config_file=config_file)
    seen = {}
    isvc = V1beta1InferenceService(
        api_version=constants.KSERVE_V1BETA1,
        kind=constants.KSERVE_KIND_INFERENCESERVICE,
        metadata=V1ObjectMeta(name=NAME, namespace=namespace),
        spec=V1beta1InferenceServiceSpec(
            predictor=V1beta1PredictorSpec(sklearn=V1beta1SKLearnSpec(storage_uri=first))
        ),
    )
    client.create(isvc)
    started = time.monotonic()
    client.wait_isvc_ready(NAME, namespace=namespace, timeout_seconds=WITHIN, polling_interval=0.5)
    seen["ready_within"] = time.monotonic() - started
    got = client.get(NAME, namespace=namespace)
    seen["url"] = got["status"]["url"]
    seen["ready"] = client.is_isvc_ready(NAME, namespace=namespace)
    seen["traffic_v1"] = predictor(got)["traffic"]

    isvc.spec.predictor.sklearn.storage_uri = second
    isvc.spec.predictor.canary_traffic_percent = 10
    patched = client.patch(NAME, isvc, namespace=namespace)
    seen["patched"] = patched["spec"]["predictor"]["canaryTrafficPercent"]
    split = poll(client, namespace, lambda o: len(predictor(o).get("traffic", [])) == 2, "split")
    seen["traffic_canary"] = predictor(split)["traffic"]

    isvc.spec.predictor.canary_traffic_percent = None  # a merge patch cannot remove a field
    client.replace(NAME, isvc, namespace=namespace)
    promoted = poll(
        client,
        namespace,
        lambda o: predictor(o).get("previousRolledoutRevision") is not None,
        "promotion",
    )
    seen["traffic_promoted"] = predictor(promoted)["traffic"]
    seen["rolled_out"] = [
        predictor(promoted)["previousRolledoutRevision"],
        predictor(promoted)["latestRolledoutRevision"],
    ]

    client.delete(NAME, namespace=namespace)
    seen["after_delete"] = client.get(namespace=namespace)["items"]
    print(json.dumps(seen))


if __name__ == "__main__":
    main(*sys.argv[1:5])
