"""A TorchServe model store served by a real `mls serve`: each model of `model_snapshot` under
its name, over KServe V1, V2 and TorchServe's own inference API, with TorchServe's handler
contract (function and class handlers, BaseHandler subclasses, the built-in image_classifier,
batches, statuses a handler sets, errors)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as triton

from tests.server.server_procs import Launcher, Served
from tests.server.torchserve.conftest import LABELS, SENTIMENTS, VOCAB

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(launcher: Launcher, store: Path) -> Iterator[Served]:
    # TorchServe's own ts, installed in the dev environment (without torchvision and captum,
    # so the default would pick ours: test_torchserve_compat.py covers that one).
    server = launcher.start(store, name="ignored-for-a-store", env={"MLS_TORCHSERVE_TS": "real"})
    yield server
    server.stop()


def png(color: tuple[int, int, int], size: tuple[int, int] = (300, 260)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def expected_top(image_net: Any, color: tuple[int, int, int]) -> list[tuple[str, float]]:
    """A solid image survives resize and crop unchanged: the network sees one normalized
    colour per channel, so its answer is computed here without any image code."""
    import torch

    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    channels = (np.array(color) / 255.0 - mean) / std
    x = torch.tensor(channels, dtype=torch.float32).view(1, 3, 1, 1).expand(1, 3, 224, 224)
    with torch.no_grad():
        probabilities = torch.softmax(image_net(x), dim=1)[0].tolist()
    ranked = sorted(zip(LABELS, probabilities, strict=True), key=lambda p: -p[1])
    return ranked[:5]


def test_ts_api_lists_the_snapshot_models_and_pings(served: Served) -> None:
    assert httpx.get(f"{served.url}/ping").json() == {"status": "Healthy"}
    listing = httpx.get(f"{served.url}/models").json()["models"]
    assert {m["modelName"]: m["modelUrl"] for m in listing} == {
        "echo": "echo.mar",
        "doubler": "doubler.mar",
        "linear": "linear.mar",
        "boom": "boom.mar",
        "images": "images.mar",
        "text": "text.mar",
    }
    (described,) = httpx.get(f"{served.url}/models/doubler").json()
    assert (described["batchSize"], described["maxBatchDelay"]) == (8, 300)
    assert httpx.get(f"{served.url}/v1/models").json()["models"] == [
        m["modelName"] for m in listing
    ]


def test_function_handler_is_called_once_at_load_and_imports_its_sibling(served: Served) -> None:
    answer = httpx.post(
        f"{served.url}/v1/models/echo:predict",
        json={"instances": [{"data": "hi"}, {"data": "there"}]},
        headers={"x-test": "h1"},
    )
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert [p["echo"] for p in predictions] == ["HI", "THERE"]
    assert {p["loaded"] for p in predictions} == {1}  # handle(None, context) ran once
    assert {p["batch"] for p in predictions} == {2}
    assert {p["header"] for p in predictions} == {"h1"}
    assert {p["model"] for p in predictions} == {"echo-archive"}  # the manifest's, served as echo


def test_raw_bodies_reach_the_handler_as_bytes(served: Served) -> None:
    # curl -T file .../v1/models/echo:predict: a PUT with a body that is not JSON
    answer = httpx.put(
        f"{served.url}/v1/models/echo:predict",
        content=b"raw",
        headers={"content-type": "application/octet-stream"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"][0]["echo"] == "BYTES:RAW"
    ts = httpx.post(
        f"{served.url}/predictions/echo", content=b"plain", headers={"content-type": "text/plain"}
    )
    assert ts.status_code == 200, ts.text
    assert ts.json()["echo"] == "PLAIN"
    form = httpx.post(
        f"{served.url}/predictions/echo", data={"data": "field"}, files={"f": ("f.bin", b"\x00")}
    )
    assert form.status_code == 200, form.text
    assert form.json()["echo"] == "FIELD"  # a form's text field arrives as str


def test_ts_api_answers_with_the_status_the_handler_set(served: Served) -> None:
    # TorchServe hands the body over as the row's "body": text as str, JSON parsed.
    answer = httpx.post(
        f"{served.url}/predictions/echo", content=b"teapot", headers={"content-type": "text/plain"}
    )
    assert answer.status_code == 418
    assert answer.json()["echo"] == "TEAPOT"
    missing = httpx.post(f"{served.url}/predictions/nothing", content=b"x")
    assert missing.status_code == 404
    assert missing.json()["type"] == "ModelNotFoundException"


def test_v2_inputs_are_the_handler_batch_and_outputs_take_their_names(served: Served) -> None:
    client = triton.InferenceServerClient(served.url.removeprefix("http://"))
    try:
        tensor = triton.InferInput("x", [2, 3], "FP32")
        tensor.set_data_from_numpy(np.array([[1, 0, 0], [0, 1, 1]], dtype=np.float32))
        result = client.infer("linear", [tensor], headers={"x-numeric": "1"})
    finally:
        client.close()
    # One V2 input is one row (KServe's v2 envelope): the handler scores its two vectors.
    y = result.as_numpy("x")
    assert y is not None
    assert np.allclose(y, [1.5, -1.5, 5.5, 0.0])


def test_a_v2_bytes_input_is_one_row_of_its_first_element(served: Served) -> None:
    """KServe's TorchServe V2 (the kservev2 envelope): a [2]-shaped BYTES input is one row, its
    first element; the answer one output named after it. The Java adapter sends the same
    (tests/runtime/test_torchserve_java.py)."""
    texts = {"name": "x", "datatype": "BYTES", "shape": [2], "data": ["hi", "there"]}
    answer = httpx.post(f"{served.url}/v2/models/echo/infer", json={"inputs": [texts]})
    assert answer.status_code == 200, answer.text
    (output,) = answer.json()["outputs"]
    assert (output["name"], output["datatype"], output["shape"]) == ("x", "BYTES", [1])
    echoed = json.loads(output["data"][0])
    assert (echoed["echo"], echoed["batch"]) == ("HI", 1)


def test_base_handler_subclass_runs_base_inference_on_its_weights(
    served: Served, linear_net: Any
) -> None:
    import torch

    rows = [[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]]
    answer = httpx.post(
        f"{served.url}/v1/models/linear:predict", json={"instances": [{"data": r} for r in rows]}
    )
    assert answer.status_code == 200, answer.text
    with torch.no_grad():
        expected = linear_net(torch.tensor(rows)).tolist()
    predictions = answer.json()["predictions"]
    assert np.allclose([p["y"] for p in predictions], expected, atol=1e-6)
    # MLS_TORCHSERVE_TS=real: the handler got TorchServe's BaseHandler, with our context.
    assert {p["base"] for p in predictions} == {"ts.torch_handler.base_handler"}


def test_a_batch_of_concurrent_requests_is_one_handler_call(served: Served) -> None:
    def ask(i: int) -> Any:
        answer = httpx.post(f"{served.url}/predictions/doubler/2.0", json=i, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(ask, range(6)))
    assert [a["double"] for a in answers] == [0, 2, 4, 6, 8, 10]
    assert {a["batch_size"] for a in answers} == {8}
    assert max(a["rows"] for a in answers) > 1  # requests shared a handler call


def test_wrong_answer_count_and_raising_handler_are_500_with_the_message(served: Served) -> None:
    wrong = httpx.post(
        f"{served.url}/v1/models/doubler:predict", json={"instances": [{"data": "wrong-count"}]}
    )
    assert wrong.status_code == 500
    assert "returned 0 answers for a batch of 1" in wrong.json()["error"]
    raised = httpx.post(f"{served.url}/v1/models/boom:predict", json={"instances": [{"data": 7}]})
    assert raised.status_code == 500
    assert "ValueError: cannot score row {'data': 7}" in raised.json()["error"]
    ts = httpx.post(f"{served.url}/predictions/boom", json={"data": 1})
    assert ts.status_code == 500
    assert "cannot score row" in ts.json()["message"]


def test_built_in_image_classifier_over_every_envelope(served: Served, image_net: Any) -> None:
    color = (200, 30, 90)
    image = png(color)
    top = expected_top(image_net, color)
    b64 = base64.b64encode(image).decode()

    v1 = httpx.post(f"{served.url}/v1/models/images:predict", json={"instances": [{"data": b64}]})
    raw = httpx.put(
        f"{served.url}/v1/models/images:predict",
        content=image,
        headers={"content-type": "image/png"},
    )
    ts = httpx.post(
        f"{served.url}/predictions/images", content=image, headers={"content-type": "image/png"}
    )
    # curl -F data=@kitten.png: the form's field is the row's "data"
    form = httpx.post(
        f"{served.url}/predictions/images", files={"data": ("c.png", image, "image/png")}
    )
    v2 = httpx.post(
        f"{served.url}/v2/models/images/infer",
        json={"inputs": [{"name": "img", "shape": [1], "datatype": "BYTES", "data": [b64]}]},
    )
    for answer in (v1, raw, ts, form, v2):
        assert answer.status_code == 200, answer.text
    for scores in (
        v1.json()["predictions"][0],
        raw.json()["predictions"][0],
        ts.json(),
        form.json(),
    ):
        assert list(scores) == [label for label, _ in top]
        assert np.allclose(list(scores.values()), [p for _, p in top], atol=1e-5)
    (output,) = v2.json()["outputs"]
    assert (output["name"], output["datatype"]) == ("img", "BYTES")
    import json

    assert list(json.loads(output["data"][0])) == [label for label, _ in top]


def test_built_in_text_classifier(served: Served, text_classifier: Any) -> None:
    import torch

    # "Hello, <b>World</b>!" cleaned and lowered is "hello world": its tokens and bigram.
    ids = [VOCAB["hello"], VOCAB["world"], VOCAB["hello world"]]
    with torch.no_grad():
        logits = text_classifier(torch.tensor(ids), torch.tensor([0]))
    expected = dict(zip(SENTIMENTS, torch.softmax(logits, dim=-1)[0].tolist(), strict=True))
    text = "Hello, <b>World</b>!"
    v1 = httpx.post(f"{served.url}/v1/models/text:predict", json={"instances": [{"data": text}]})
    ts = httpx.post(
        f"{served.url}/predictions/text",
        content=text.encode(),
        headers={"content-type": "text/plain"},
    )
    for answer in (v1, ts):
        assert answer.status_code == 200, answer.text
    for scores in (v1.json()["predictions"][0], ts.json()):
        assert scores == pytest.approx(expected, abs=1e-6)
