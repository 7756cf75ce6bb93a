"""Each built-in format, served by a real `mls serve`, predicts what its own library predicts.

Every format is asked over V1 (httpx, JSON) and V2 (Triton's client, binary and JSON tensors).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as triton

from tests.server.server_procs import Served

pytestmark = pytest.mark.e2e


@contextmanager
def triton_client(served: Served) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(served.url.removeprefix("http://"))
    try:
        yield client
    finally:
        client.close()


def v1_predict(served: Served, model: str, rows: np.ndarray) -> Any:
    answer = httpx.post(
        f"{served.url}/v1/models/{model}:predict", json={"instances": rows.tolist()}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["predictions"]


def v2_infer(
    served: Served,
    model: str,
    rows: np.ndarray,
    *,
    datatype: str,
    outputs: list[str],
    binary: bool,
    input_name: str = "input-0",
) -> dict[str, np.ndarray]:
    tensor = triton.InferInput(input_name, list(rows.shape), datatype)
    tensor.set_data_from_numpy(rows, binary_data=binary)
    wanted = [triton.InferRequestedOutput(name, binary_data=binary) for name in outputs]
    with triton_client(served) as client:
        result = client.infer(model, [tensor], outputs=wanted, request_id="req-1")
    assert result.get_response()["id"] == "req-1"
    return {name: result.as_numpy(name) for name in outputs}


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_sklearn_predicts_like_sklearn(
    sklearn_server: Served, sklearn_model: Any, rows: np.ndarray, binary: bool
) -> None:
    assert v1_predict(sklearn_server, "iris", rows) == sklearn_model.predict(rows).tolist()
    got = v2_infer(
        sklearn_server,
        "iris",
        rows,
        datatype="FP64",
        outputs=["predict", "predict_proba"],
        binary=binary,
    )
    np.testing.assert_array_equal(got["predict"], sklearn_model.predict(rows))
    np.testing.assert_array_equal(got["predict_proba"], sklearn_model.predict_proba(rows))


def test_sklearn_metadata_comes_from_the_estimator(sklearn_server: Served) -> None:
    with triton_client(sklearn_server) as client:
        meta = client.get_model_metadata("iris")
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("iris")
    assert meta["platform"] == "sklearn"
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
    assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
    assert meta["outputs"][0]["datatype"] == "INT64"


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_xgboost_predicts_like_xgboost(
    xgboost_server: Served, xgboost_booster: Any, rows: np.ndarray, binary: bool
) -> None:
    import xgboost

    expected = xgboost_booster.predict(xgboost.DMatrix(rows))
    np.testing.assert_array_equal(
        np.asarray(v1_predict(xgboost_server, "xgb", rows), dtype=np.float32), expected
    )
    got = v2_infer(
        xgboost_server,
        "xgb",
        rows.astype(np.float32),
        datatype="FP32",
        outputs=["predict"],
        binary=binary,
    )
    np.testing.assert_array_equal(got["predict"], expected)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_lightgbm_predicts_like_lightgbm(
    lightgbm_server: Served, lightgbm_booster: Any, rows: np.ndarray, binary: bool
) -> None:
    expected = lightgbm_booster.predict(rows)
    np.testing.assert_array_equal(np.asarray(v1_predict(lightgbm_server, "lgbm", rows)), expected)
    got = v2_infer(
        lightgbm_server, "lgbm", rows, datatype="FP64", outputs=["predict"], binary=binary
    )
    np.testing.assert_array_equal(got["predict"], expected)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_onnx_predicts_like_onnxruntime(
    onnx_server: Served, onnx_path: Path, sklearn_model: Any, rows: np.ndarray, binary: bool
) -> None:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    x = rows.astype(np.float32)
    label, probabilities = session.run(["label", "probabilities"], {"X": x})
    assert v1_predict(onnx_server, "iris-onnx", rows) == label.tolist()
    got = v2_infer(
        onnx_server,
        "iris-onnx",
        x,
        datatype="FP32",
        outputs=["label", "probabilities"],
        binary=binary,
        input_name="X",
    )
    np.testing.assert_array_equal(got["label"], label)
    np.testing.assert_array_equal(got["probabilities"], probabilities)
    np.testing.assert_array_equal(got["label"], sklearn_model.predict(rows))


def test_onnx_metadata_comes_from_the_graph(onnx_server: Served) -> None:
    meta = httpx.get(f"{onnx_server.url}/v2/models/iris-onnx", timeout=10).json()
    assert meta["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}]
    assert {o["name"]: o["datatype"] for o in meta["outputs"]} == {
        "label": "INT64",
        "probabilities": "FP32",
    }


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_torchscript_predicts_like_torch(
    torch_server: Served, torch_path: Path, rows: np.ndarray, binary: bool
) -> None:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(torch_path))
    x = rows.astype(np.float32)
    with torch.inference_mode():
        expected = module(torch.from_numpy(x)).numpy()
    v1 = np.asarray(v1_predict(torch_server, "net", rows), dtype=np.float32)
    np.testing.assert_array_equal(v1, expected)
    got = v2_infer(torch_server, "net", x, datatype="FP32", outputs=["output-0"], binary=binary)
    np.testing.assert_array_equal(got["output-0"], expected)


def test_custom_model_answers_both_protocols(echo_server: Served) -> None:
    rows = np.arange(6, dtype=np.int32).reshape(3, 2)
    predictions = v1_predict(echo_server, "echo", rows)
    assert [p["row"] for p in predictions] == rows.tolist()
    got = v2_infer(echo_server, "echo", rows, datatype="INT32", outputs=["input-0"], binary=True)
    np.testing.assert_array_equal(got["input-0"], rows)


# -- F6: bad input is the caller's 400, naming the input, never the library's 500 -------------
def v2_body(name: str, datatype: str, shape: list[int], data: list[Any]) -> dict[str, Any]:
    return {"inputs": [{"name": name, "datatype": datatype, "shape": shape, "data": data}]}


BAD_INPUTS = [
    pytest.param("v1", {"instances": [["a", "b", "c", "d"]]}, "'instances'", id="v1-strings"),
    pytest.param("v1", {"instances": [[1.0, 2.0]]}, "'instances'", id="v1-two-features"),
    pytest.param("v1", {"instances": [[{"a": 1}, 1, 2, 3]]}, "'instances'", id="v1-object"),
    pytest.param("v1", {"instances": [[[1], [2], [3], [4]]]}, "'instances'", id="v1-too-deep"),
    pytest.param("v2", ("BYTES", [1, 4], ["a", "b", "c", "d"]), "INPUT", id="v2-bytes"),
    pytest.param("v2", ("FP32", [1, 2], [1.0, 2.0]), "INPUT", id="v2-two-features"),
    pytest.param("v2", ("FP32", [1, 1, 4], [1.0, 2.0, 3.0, 4.0]), "INPUT", id="v2-rank-3"),
]
FORMAT_SERVERS = [  # (fixture, model name, V2 input name)
    ("sklearn_server", "iris", "input-0"),
    ("xgboost_server", "xgb", "input-0"),
    ("lightgbm_server", "lgbm", "input-0"),
    ("onnx_server", "iris-onnx", "X"),
    ("torch_server", "net", "input-0"),
]


@pytest.mark.parametrize(("fixture", "model", "input_name"), FORMAT_SERVERS)
@pytest.mark.parametrize(("protocol", "bad", "named"), BAD_INPUTS)
def test_bad_input_is_400_naming_the_input_for_every_format(
    request: pytest.FixtureRequest,
    fixture: str,
    model: str,
    input_name: str,
    protocol: str,
    bad: Any,
    named: str,
) -> None:
    """F6: strings, objects, wrong shapes and counts to a numeric model answer 400 and say
    which input is wrong (they were the library's 500: ValueError, XGBoostError, InvalidArgument,
    TorchScript's RuntimeError)."""
    if fixture == "torch_server" and protocol == "v2" and bad[1] == [1, 1, 4]:
        pytest.skip("a Linear layer takes any leading dimensions: [1, 1, 4] is valid for it")
    served: Served = request.getfixturevalue(fixture)
    if protocol == "v1":
        answer = httpx.post(f"{served.url}/v1/models/{model}:predict", json=bad, timeout=30)
    else:
        body = v2_body(input_name, *bad)
        answer = httpx.post(f"{served.url}/v2/models/{model}/infer", json=body, timeout=30)
    assert answer.status_code == 400, answer.text
    message = answer.json()["error"]
    assert named.replace("INPUT", repr(input_name)) in message
    assert "Traceback" not in message


def test_torch_operator_refusal_is_400_with_its_cause(torch_server: Served) -> None:
    """F6: what TorchScript's interpreter reports ends with the operator's own complaint."""
    body = v2_body("input-0", "FP64", [1, 4], [1.0, 2.0, 3.0, 4.0])
    answer = httpx.post(f"{torch_server.url}/v2/models/net/infer", json=body, timeout=30)
    assert (answer.status_code, answer.json()) == (
        400,
        {
            "error": "Model net cannot run on 'input-0' FP64 [1, 4]: mat1 and mat2 must have "
            "the same dtype, but got Double and Float"
        },
    )
    answer = httpx.post(
        f"{torch_server.url}/v2/models/net/infer",
        json={"inputs": [v2_body(n, "FP32", [1, 4], [1, 2, 3, 4])["inputs"][0] for n in "ab"]},
        timeout=30,
    )
    assert (answer.status_code, answer.json()) == (
        400,
        {"error": "Model net takes 1 input tensor(s); the request has 2."},
    )


def test_numeric_formats_name_the_offending_value(xgboost_server: Served) -> None:
    """F6: the message quotes what is not a number (clipped), and a JSON null is a NaN."""
    answer = httpx.post(
        f"{xgboost_server.url}/v1/models/xgb:predict",
        json={"instances": [[1, 2, 3, "four" * 20]]},
        timeout=30,
    )
    assert (answer.status_code, answer.json()) == (
        400,
        {
            "error": "Model xgb takes numbers, but input 'instances' holds the string "
            "'fourfourfourfourfourfourfourfourfourfour...'."
        },
    )
    answer = httpx.post(
        f"{xgboost_server.url}/v1/models/xgb:predict",
        json={"instances": [[None, 2, 3, 4]]},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
