"""Every error a client can cause, or a model can raise, has its status and a clear message."""

from __future__ import annotations

import math
import struct
import sys
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.server.server_procs import MODELS, Launcher, Served

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def echo(echo_server: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=echo_server.url, timeout=30) as client:
        yield client


def infer_body(*, shape: list[int], datatype: str, data: list[object]) -> dict[str, object]:
    return {"inputs": [{"name": "pixels", "shape": shape, "datatype": datatype, "data": data}]}


def test_malformed_json_is_400(echo: httpx.Client) -> None:
    for path in ("/v2/models/echo/infer", "/v1/models/echo:predict"):
        answer = echo.post(
            path, content=b'{"inputs": [', headers={"content-type": "application/json"}
        )
        assert answer.status_code == 400
        assert "not valid JSON" in answer.json()["error"]


def test_wrong_shape_is_400_naming_the_input(echo: httpx.Client) -> None:
    body = infer_body(shape=[2, 2], datatype="FP32", data=[1, 2, 3])
    answer = echo.post("/v2/models/echo/infer", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"] == (
        "input 'pixels' has shape [2, 2], which needs 4 elements, but its data has 3."
    )


@pytest.mark.parametrize(
    ("datatype", "data", "message"),
    [
        ("INT32", [1.5], "tensor 'pixels' has datatype INT32 but its data holds floats."),
        ("FP32", ["a"], "tensor 'pixels' has datatype FP32 but its data holds non-numeric values."),
        ("INT8", [300], "tensor 'pixels' value 300 is out of range for INT8."),
        ("BOOL", [1], "tensor 'pixels' has datatype BOOL but its data holds integers."),
        ("FP31", [1.0], "tensor 'pixels' has unsupported datatype 'FP31'"),
    ],
)
def test_wrong_datatype_is_400_naming_the_input(
    echo: httpx.Client, datatype: str, data: list[object], message: str
) -> None:
    answer = echo.post(
        "/v2/models/echo/infer", json=infer_body(shape=[1], datatype=datatype, data=data)
    )
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(message)


def test_binary_size_mismatch_is_400(echo: httpx.Client) -> None:
    tensor = {"name": "pixels", "shape": [2], "datatype": "FP32"}
    header = orjson.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": 8}}]})
    answer = echo.post(
        "/v2/models/echo/infer",
        content=header + b"\x00" * 12,
        headers={"inference-header-content-length": str(len(header))},
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "The request has 4 bytes of binary data that no input claims."


def test_unknown_model_and_path_are_404(echo: httpx.Client) -> None:
    answer = echo.post(
        "/v2/models/nope/infer", json=infer_body(shape=[1], datatype="FP32", data=[1])
    )
    assert (answer.status_code, answer.json()) == (404, {"error": "Model nope is not served here."})
    answer = echo.get("/v1/models/nope")
    assert (answer.status_code, answer.json()) == (404, {"error": "Model nope is not served here."})
    answer = echo.get("/v3/anything")
    assert (answer.status_code, answer.json()) == (404, {"error": "No route for GET /v3/anything."})


def test_body_over_the_limit_is_413(echo: httpx.Client) -> None:
    body = b"[" + b"1," * (1 << 19) + b"1]"
    answer = echo.post("/v1/models/echo:predict", content=body)
    assert answer.status_code == 413
    assert answer.json()["error"] == (
        f"The request body of {len(body)} bytes exceeds the limit of {1 << 20}."
    )


def test_chunked_body_over_the_limit_is_413(echo: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    answer = echo.post("/v1/models/echo:predict", content=chunks())
    assert answer.status_code == 413
    assert "exceeds the limit of 1048576" in answer.json()["error"]


def test_model_that_raises_is_500_with_message_and_no_traceback(echo: httpx.Client) -> None:
    body = {
        **infer_body(shape=[1], datatype="FP32", data=[1]),
        "parameters": {"fail": "disk on fire"},
    }
    answer = echo.post("/v2/models/echo/infer", json=body)
    assert answer.status_code == 500
    assert answer.json() == {"error": "Model echo failed: RuntimeError: disk on fire"}
    answer = echo.post("/v1/models/echo:predict", json={"fail": "bad row 3"})
    assert answer.status_code == 500
    assert answer.json() == {"error": "Model echo failed: ValueError: bad row 3"}
    assert "Traceback" not in answer.text


def test_custom_model_refusing_its_input_is_400(echo: httpx.Client) -> None:
    """F6 for model.py: the model's InvalidInput is the caller's 400, its own words, while any
    other exception stays the model's 500 (above)."""
    answer = echo.post("/v1/models/echo:predict", json={"refuse": "row 2 has no 'age'"})
    assert (answer.status_code, answer.json()) == (400, {"error": "row 2 has no 'age'"})


def test_unknown_output_is_400(echo: httpx.Client) -> None:
    body = {**infer_body(shape=[1], datatype="FP32", data=[1]), "outputs": [{"name": "scores"}]}
    answer = echo.post("/v2/models/echo/infer", json=body)
    assert answer.status_code == 400
    assert (
        answer.json()["error"]
        == "output 'scores' is not produced by model 'echo' (outputs: pixels)."
    )


def test_explain_without_an_explainer_is_501(sklearn_server: Served) -> None:
    answer = httpx.post(
        f"{sklearn_server.url}/v1/models/iris:explain",
        json={"instances": [[1, 2, 3, 4]]},
        timeout=30,
    )
    assert answer.status_code == 501
    assert answer.json() == {"error": "Model iris does not implement explain."}


def test_explain_with_an_explainer_answers(echo: httpx.Client) -> None:
    answer = echo.post("/v1/models/echo:explain", json={"instances": [[1, 2]]})
    assert answer.status_code == 200
    assert answer.json() == {"explanations": [{"row": [1, 2], "why": "echo"}]}


def test_builtin_model_rejects_a_body_without_instances(sklearn_server: Served) -> None:
    answer = httpx.post(
        f"{sklearn_server.url}/v1/models/iris:predict", json={"rows": []}, timeout=30
    )
    assert answer.status_code == 400
    assert answer.json() == {"error": 'The V1 request for model iris needs "instances", a list.'}


@pytest.mark.parametrize(
    ("protocol", "body", "named"),
    [
        ("v1/models/iris:predict", {"instances": [[1.0, 2.0]]}, "'instances'"),
        (
            "v2/models/iris/infer",
            {"inputs": [{"name": "input-0", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]},
            "'input-0'",
        ),
    ],
)
def test_wrong_feature_count_is_400_not_a_model_failure(
    sklearn_server: Served, protocol: str, body: dict[str, object], named: str
) -> None:
    answer = httpx.post(f"{sklearn_server.url}/{protocol}", json=body, timeout=30)
    assert answer.status_code == 400
    assert answer.json() == {
        "error": f"Model iris expects rows of 4 features, shape [N, 4]; input {named} has "
        "shape [1, 2]."
    }


def test_no_rows_and_nan_are_400_from_sklearn(sklearn_server: Served) -> None:
    """Found by the serve fuzzer: sklearn refuses zero rows and NaN with a ValueError, which
    was the model's 500; it is the caller's input."""
    url = f"{sklearn_server.url}/v2/models/iris/infer"
    empty = {"inputs": [{"name": "input-0", "shape": [0, 4], "datatype": "FP64", "data": []}]}
    answer = httpx.post(url, json=empty, timeout=30)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(
        "Model iris cannot predict on input 'input-0': Found array with 0 sample(s)"
    )
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [1, 4],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": 32},
                }
            ]
        }
    )
    nan_row = struct.pack("<4d", math.nan, 1.0, 2.0, 3.0)
    answer = httpx.post(
        url,
        content=header + nan_row,
        headers={"inference-header-content-length": str(len(header))},
        timeout=30,
    )
    assert (answer.status_code, answer.json()) == (
        400,
        {"error": "Model iris cannot predict on input 'input-0': Input X contains NaN."},
    )


def test_unready_model_is_503(launcher: Launcher) -> None:
    # No --port: the port comes from $PORT, as the local engine passes it.
    argv = [sys.executable, "-m", "mlservice", "serve", str(MODELS / "notready"), "--name", "lazy"]
    served = launcher.spawn(argv, name="lazy", env={"PORT": "0"}, wait_ready=False)
    assert not served.url.endswith(":8080")
    with httpx.Client(base_url=served.url, timeout=30) as client:
        assert client.get("/v2/health/live").status_code == 200
        ready = client.get("/v2/health/ready")
        assert (ready.status_code, ready.json()) == (503, {"ready": False})
        answer = client.post("/v1/models/lazy:predict", json={"instances": [1]})
        assert (answer.status_code, answer.json()) == (503, {"error": "Model lazy is not ready."})
        answer = client.get("/v2/models/lazy/ready")
        assert (answer.status_code, answer.json()) == (503, {"error": "Model lazy is not ready."})
    served.stop()
