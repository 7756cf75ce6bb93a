"""Every V2 datatype round-trips through a custom echo model, as JSON and as binary tensors."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import tritonclient.http as triton

from tests.server.server_procs import Served

pytestmark = pytest.mark.e2e

# Values at the edges of each type, shaped [2, 3].
SAMPLES: dict[str, np.ndarray] = {
    "BOOL": np.array([[True, False, True], [False, False, True]]),
    "INT8": np.array([[-128, -1, 0], [1, 64, 127]], dtype=np.int8),
    "INT16": np.array([[-32768, -1, 0], [1, 300, 32767]], dtype=np.int16),
    "INT32": np.array([[-(2**31), -1, 0], [1, 70000, 2**31 - 1]], dtype=np.int32),
    "INT64": np.array([[-(2**63), -1, 0], [1, 2**40, 2**63 - 1]], dtype=np.int64),
    "UINT8": np.array([[0, 1, 2], [100, 200, 255]], dtype=np.uint8),
    "UINT16": np.array([[0, 1, 2], [1000, 40000, 65535]], dtype=np.uint16),
    "UINT32": np.array([[0, 1, 2], [10, 3_000_000_000, 2**32 - 1]], dtype=np.uint32),
    "UINT64": np.array([[0, 1, 2], [10, 2**63, 2**64 - 1]], dtype=np.uint64),
    "FP16": np.array([[-1.5, 0.0, 0.25], [65504.0, -0.125, 3.0]], dtype=np.float16),
    "FP32": np.array([[-1.5, 0.0, 3.4e38], [1e-7, -0.1, 2.5]], dtype=np.float32),
    "FP64": np.array([[-1.5, 0.0, 1e308], [5e-324, -0.1, np.pi]], dtype=np.float64),
    "BYTES": np.array(
        [[b"a", b"", "\u00e9t\u00e9".encode()], [b"x" * 40, b"0", b"z"]], dtype=object
    ),
}


def _json_data(array: np.ndarray) -> list[object]:
    if array.dtype == object:
        return [item.decode() for item in array.reshape(-1)]
    return array.reshape(-1).tolist()


@pytest.mark.parametrize("datatype", list(SAMPLES))
def test_datatype_round_trips_as_json(echo_server: Served, datatype: str) -> None:
    sample = SAMPLES[datatype]
    body = {
        "id": f"json-{datatype}",
        "inputs": [
            {"name": "x", "datatype": datatype, "shape": [2, 3], "data": _json_data(sample)}
        ],
    }
    answer = httpx.post(f"{echo_server.url}/v2/models/echo/infer", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc["id"] == f"json-{datatype}"
    (output,) = doc["outputs"]
    assert (output["name"], output["datatype"], output["shape"]) == ("x", datatype, [2, 3])
    if datatype == "BYTES":
        assert output["data"] == _json_data(sample)
    else:
        got = np.asarray(output["data"], dtype=sample.dtype).reshape(sample.shape)
        np.testing.assert_array_equal(got, sample)


@pytest.mark.parametrize("datatype", list(SAMPLES))
def test_datatype_round_trips_as_binary(echo_server: Served, datatype: str) -> None:
    sample = SAMPLES[datatype]
    tensor = triton.InferInput("x", [2, 3], datatype)
    tensor.set_data_from_numpy(sample, binary_data=True)
    client = triton.InferenceServerClient(echo_server.url.removeprefix("http://"))
    try:
        result = client.infer("echo", [tensor], outputs=[triton.InferRequestedOutput("x")])
    finally:
        client.close()
    output = result.get_output("x")
    assert output["datatype"] == datatype
    assert "binary_data_size" in output["parameters"]
    np.testing.assert_array_equal(result.as_numpy("x"), sample)
