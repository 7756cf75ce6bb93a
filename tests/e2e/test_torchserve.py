"""TorchServe model stores through the gateway of a real `mls up`, as the examples serve them:
the digits store (a custom BaseHandler) by the InferenceService shaped like the reference's and
the sentiment store (the built-in text_classifier) by an MLService, both natively over V1, V2 and
TorchServe's /predictions; the digits store on the real TorchServe (Java) answers as natively."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from mlservice.cli.background import UpProcess
from tests.e2e.e2e_helpers import condition, events, wait_for
from tests.server.torchserve import archives
from tests.support.paths import EXAMPLES
from tests.support.torchserve import DIGIT_PNG, MISSING, model_stores, needs_java
from tests.support.up import apply, scratch_namespace

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
READY_WITHIN = 150
EXAMPLE_FILES = {
    ("isvc", "digits"): "kserve/torchserve-digits.yaml",
    ("mlservice", "torchserve-sentiment"): "mlservice/torchserve-sentiment.yaml",
    ("mlservice", "torchserve-java"): "mlservice/torchserve-java.yaml",
}


@pytest.fixture(scope="module")
def namespace(up: UpProcess, request: pytest.FixtureRequest) -> Iterator[str]:
    """The examples applied at once (the JVM starts while the native ones load), in a namespace
    of their own, the stores in the volume tutorial as examples/make_models.py writes them."""
    model_stores(up.home.volume("tutorial") / "torchserve")
    with scratch_namespace(up, request, limit=30) as name:
        for (_, service), rel in EXAMPLE_FILES.items():
            if service != "torchserve-java" or not MISSING:
                apply(up, (EXAMPLES / rel).read_text(), name)
        apply(up, nllb_on_digits(), name)
        yield name
        with up.client() as client:
            for isvc in ("digits", NLLB):
                client.delete("isvc", isvc, namespace=name)


NLLB = "nllb-200-1dot3b"


def nllb_on_digits() -> dict[str, Any]:
    """The reference's manifest (its CUDA image, its resources) as written, but for its
    store, which is the digits one here, and its GPU, which this machine may not have."""
    manifest: dict[str, Any] = yaml.safe_load(
        (EXAMPLES / "kserve/torchserve-nllb.yaml").read_text()
    )
    pytorch = manifest["spec"]["predictor"]["pytorch"]
    pytorch["storageUri"] = "pvc://tutorial/torchserve/digits"
    for part in pytorch["resources"].values():
        part.pop("nvidia.com/gpu")
    return manifest


def _ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def gateway(up: UpProcess, kind: str, name: str, namespace: str) -> httpx.Client:
    """A client for the service's host on the gateway, once the service is Ready."""
    wait_for(up, name, namespace, _ready, kind=kind, timeout=READY_WITHIN)
    return httpx.Client(
        base_url=str(up.endpoints["gateway"]),
        headers={"Host": f"{name}.{namespace}.localhost"},
        timeout=60,
    )


def v1_digits(client: httpx.Client) -> list[Any]:
    text = base64.b64encode(DIGIT_PNG.read_bytes()).decode()
    answer = client.post("/v1/models/digits:predict", json={"instances": [{"data": text}] * 2})
    assert answer.status_code == 200, answer.text
    predictions: list[Any] = answer.json()["predictions"]
    return predictions


def _label(answer: dict[str, Any]) -> int:
    assert abs(sum(answer["probabilities"]) - 1) < 1e-3
    return int(answer["label"])


def test_digits_natively_over_v1_v2_and_predictions(up: UpProcess, namespace: str) -> None:
    with gateway(up, "isvc", "digits", namespace) as client:
        predictions = v1_digits(client)
        assert [_label(p) for p in predictions] == [3, 3]
        png = DIGIT_PNG.read_bytes()
        # The reference's `curl -T 0.png .../v1/models/mnist:predict`: a PUT of the raw file.
        raw = client.put("/v1/models/digits:predict", content=png)
        assert raw.json()["predictions"] == predictions[:1]
        data = [base64.b64encode(png).decode()]
        tensor = {"name": "png", "datatype": "BYTES", "shape": [1], "data": data}
        infer = client.post("/v2/models/digits/infer", json={"inputs": [tensor]}).json()
        (output,) = infer["outputs"]
        assert output["datatype"] == "BYTES"
        assert json.loads(output["data"][0]) == predictions[0]
        assert client.post("/predictions/digits", content=png).json() == predictions[0]


def test_the_reference_nllb_manifest_is_served_natively_despite_its_image(
    up: UpProcess, namespace: str
) -> None:
    """Its `pytorch.image` (a CUDA build of TorchServe-KFS) is not run here: the runtime's
    program serves the store, and a Warning event says which image was not run."""
    with gateway(up, "isvc", NLLB, namespace) as client:
        raw = client.put(f"/v1/models/{NLLB}:predict", content=DIGIT_PNG.read_bytes())
        assert raw.status_code == 200, raw.text
        assert [_label(p) for p in raw.json()["predictions"]] == [3]
    warned = [e for e in events(up, namespace) if e["reason"] == "ImageNotRun"]
    assert len(warned) == 1
    assert "yurkoff/torchserve-cuda-11.3-kfs" in warned[0]["message"]
    assert warned[0]["type"] == "Warning"


def test_sentiment_with_the_builtin_text_classifier(up: UpProcess, namespace: str) -> None:
    with gateway(up, "mlservice", "torchserve-sentiment", namespace) as client:
        good = {"instances": [{"data": "what a great and wonderful film"}]}
        (scores,) = client.post("/v1/models/sentiment:predict", json=good).json()["predictions"]
        assert set(scores) == {"positive", "negative"}
        assert scores["positive"] > 0.5
        bad = "really bad i hated it"
        tensor = {"name": "text", "datatype": "BYTES", "shape": [1], "data": [bad]}
        infer = client.post("/v2/models/sentiment/infer", json={"inputs": [tensor]}).json()
        assert json.loads(infer["outputs"][0]["data"][0])["negative"] > 0.5
        own = client.post("/predictions/sentiment", content=bad.encode()).json()
        assert own["negative"] > 0.5


@needs_java()
def test_digits_on_the_real_torchserve_answer_as_natively(up: UpProcess, namespace: str) -> None:
    with gateway(up, "isvc", "digits", namespace) as native:
        expected = v1_digits(native)
    with gateway(up, "mlservice", "torchserve-java", namespace) as java:
        answers = v1_digits(java)
        png = DIGIT_PNG.read_bytes()
        assert java.post("/predictions/digits", content=png).status_code == 200
        # The example's `# Try:` (tests/examples/test_examples_run.py leaves it to this test).
        raw = java.put("/v1/models/digits:predict", content=png)
        assert raw.status_code == 200, raw.text
        assert [_label(p) for p in raw.json()["predictions"]] == [3]
    assert [_label(a) for a in answers] == [_label(e) for e in expected]
    for got, want in zip(answers, expected, strict=True):
        assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-4)


def test_a_bad_archive_is_a_status_condition_naming_it(up: UpProcess, namespace: str) -> None:
    """A `.mar` with a symlink entry in a store on a volume: the replica refuses it before
    extracting anything, and the service's Ready condition quotes why."""
    store = up.home.volume("tutorial") / "torchserve" / "bad"
    good = {
        "MAR-INF/MANIFEST.json": archives.manifest("bad", "h.py"),
        "h.py": "def handle(data, context):\n    return data\n",
    }
    store.mkdir(parents=True, exist_ok=True)
    archives.zip_symlink(store / "bad.mar", "link.py", "/etc/passwd", extra=good)
    manifest = (EXAMPLES / "mlservice/torchserve-sentiment.yaml").read_text()
    manifest = manifest.replace("torchserve-sentiment", "torchserve-bad").replace(
        "pvc://tutorial/torchserve/sentiment", "pvc://tutorial/torchserve/bad"
    )
    apply(up, manifest, namespace)

    def refused(obj: dict[str, Any]) -> bool:
        return "link" in condition(obj).get("message", "") if obj.get("status") else False

    failed = wait_for(up, "torchserve-bad", namespace, refused, timeout=READY_WITHIN)
    ready = condition(failed)
    assert (ready["status"], ready["reason"]) == ("False", "CrashLoopBackOff")
    assert "'link.py' that is a" in ready["message"]
    assert "bad.mar" in ready["message"]
    assert sorted(p.name for p in store.iterdir()) == ["bad.mar"]  # nothing extracted beside it
    with up.client() as client:
        client.delete("mlservice", "torchserve-bad", namespace=namespace)
