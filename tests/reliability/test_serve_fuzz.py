"""Hostile payloads to one real `mls serve` (an iris classifier): never a server error.

Hypothesis builds requests over V1 JSON, V2 JSON, the V2 binary tensor extension and gRPC
ModelInfer. Most start valid and take a few mutations (a value swapped for garbage, a key
dropped, a huge or negative dimension, another datatype, a length that lies, a body cut short),
so they get past the first check; the rest are garbage from the start (unicode, nested
structures, bytes). The property: every answer is below 500 (gRPC: never INTERNAL, UNKNOWN or
UNAVAILABLE), nothing is logged as an internal error, and the server is still ready after each
batch. Budgets are fixed and the examples derandomized, so a run is repeatable.
"""

from __future__ import annotations

import copy
import json
import struct
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from tritonclient.grpc import service_pb2 as pb

from tests.server.grpc.grpc_procs import grpc_target
from tests.server.server_procs import Launcher, Served
from tests.support.iris import iris_joblib

pytestmark = pytest.mark.e2e
MODEL = "iris"
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
# struct codes of each numeric datatype, for raw tensors
PACKED = {
    "BOOL": "?",
    "INT8": "b",
    "INT16": "h",
    "INT32": "i",
    "INT64": "q",
    "UINT8": "B",
    "UINT16": "H",
    "UINT32": "I",
    "UINT64": "Q",
    "FP16": "e",
    "FP32": "f",
    "FP64": "d",
}
DATATYPES = [*PACKED, "BYTES"]
EDGE_INTS = [0, -1, 255, 2**31, -(2**31) - 1, 2**53 + 1, 2**62, 2**63 - 1, -(2**63), 2**64, 2**70]
SERVER_FAULTS = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNAVAILABLE)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, str]]:
    folder = tmp_path_factory.mktemp("fuzz-iris")
    (folder / "model.joblib").write_bytes(iris_joblib())
    launcher = Launcher(tmp_path_factory.mktemp("fuzz-logs"))
    args = ["--grpc-port", "0", "--max-body-bytes", str(1 << 20)]
    served = launcher.start(folder, *args, name=MODEL)
    try:
        yield served, grpc_target(served)
    finally:
        launcher.close()


@pytest.fixture(scope="module")
def client(served: tuple[Served, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[0].url, timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def model_infer(served: tuple[Served, str]) -> Iterator[Any]:
    with grpc.insecure_channel(served[1]) as channel:
        yield channel.unary_unary(
            "/inference.GRPCInferenceService/ModelInfer",
            request_serializer=pb.ModelInferRequest.SerializeToString,
            response_deserializer=pb.ModelInferResponse.FromString,
        )


@pytest.fixture(autouse=True)
def alive_after_each_batch(served: tuple[Served, str], client: httpx.Client) -> Iterator[None]:
    server = served[0]
    logged = len(server.log_text())
    yield
    assert server.proc.poll() is None, server.log_text()
    assert client.get("/v2/health/ready").status_code == 200
    assert "internal error" not in server.log_text()[logged:]


# -- values ----------------------------------------------------------------------------------
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from(EDGE_INTS)
    | st.floats()  # NaN and infinities too: json writes them, the server must refuse them
    | st.text(max_size=12)
)
garbage = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
numbers = st.floats(-1e6, 1e6, allow_nan=False) | st.integers(-100, 100)
dims = st.integers(-2, 6) | st.sampled_from(EDGE_INTS)
# Shapes whose element count is small (a zero) while a dimension is absurd, and the like.
odd_shapes = st.lists(st.sampled_from([0, 0, 1, 4, -1, 2**31, 2**62, 2**63 - 1]), max_size=4)
datatypes = st.sampled_from(DATATYPES) | st.sampled_from(["FP31", "", "fp32", "BF16"])


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document a mutation can hit (the root excluded)."""
    found = []
    children = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    )
    for key, value in children:
        found.append((*prefix, key))
        found.extend(paths(value, (*prefix, key)))
    return found


@st.composite
def mutated(draw: st.DrawFn, doc: Any) -> Any:
    """`doc` with up to three changes: a value replaced, a key or item dropped, a list grown."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(0, 3))):
        places = paths(doc)
        if not places:
            break
        *parent_path, key = draw(st.sampled_from(places))
        parent = doc
        for step in parent_path:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "replace", "edge", "drop", "grow"]))
        if action == "drop":
            del parent[key]
        elif action == "grow" and isinstance(parent[key], list):
            parent[key].append(draw(garbage | numbers))
        elif action == "edge":
            parent[key] = draw(st.sampled_from(EDGE_INTS) | st.lists(dims, max_size=4) | datatypes)
        else:
            parent[key] = draw(garbage)
    return doc


def mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`valid` (mutated) nine times in ten, plain garbage otherwise."""
    return st.integers(0, 9).flatmap(lambda n: garbage if n == 0 else valid)


def dumps(doc: Any) -> bytes:
    # The stdlib, not orjson: it writes integers past 64 bits, and NaN/Infinity.
    return json.dumps(doc).encode()


# -- V1 --------------------------------------------------------------------------------------
@st.composite
def v1_body(draw: st.DrawFn) -> bytes:
    rows = draw(st.lists(st.lists(numbers, min_size=4, max_size=4), min_size=1, max_size=4))
    return dumps(draw(mostly(mutated({"instances": rows}))))


@settings(FUZZ, max_examples=400)
@given(body=v1_body())
def test_v1_json_never_a_server_error(client: httpx.Client, body: bytes) -> None:
    note(repr(body[:500]))
    answer = client.post(
        f"/v1/models/{MODEL}:predict", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code < 500, answer.text


content_types = st.sampled_from(
    [None, "application/json", "text/plain", "application/octet-stream", "ünï/ty pe".encode()]
)


@settings(FUZZ, max_examples=100)
@given(body=st.binary(max_size=200) | v1_body().map(lambda b: b[: len(b) // 2]), kind=content_types)
def test_raw_bodies_never_a_server_error(
    client: httpx.Client, body: bytes, kind: str | bytes | None
) -> None:
    note(repr((body[:500], kind)))
    headers = {} if kind is None else {"content-type": kind}
    for path in (f"/v1/models/{MODEL}:predict", f"/v2/models/{MODEL}/infer"):
        answer = client.post(path, content=body, headers=headers)
        assert answer.status_code < 500, answer.text


# -- V2 JSON ---------------------------------------------------------------------------------
@st.composite
def v2_doc(draw: st.DrawFn) -> dict[str, Any]:
    """A valid iris request in any datatype (its values may not fit the type)."""
    rows = draw(st.integers(0, 3))
    kind = draw(st.sampled_from(DATATYPES))
    element = st.text(max_size=4) if kind == "BYTES" else numbers | st.booleans()
    data = draw(st.lists(element, min_size=rows * 4, max_size=rows * 4))
    shape = draw(st.just([rows, 4]) | odd_shapes)
    tensor = {"name": "input-0", "datatype": kind, "shape": shape, "data": data}
    doc: dict[str, Any] = {"inputs": [tensor]}
    if draw(st.booleans()):
        names = draw(st.lists(st.sampled_from(["predict", "predict_proba", "x"]), max_size=2))
        binary = draw(st.booleans())
        doc["outputs"] = [{"name": n, "parameters": {"binary_data": binary}} for n in names]
    if draw(st.booleans()):
        doc["id"] = draw(st.text(max_size=6))
        doc["parameters"] = {"binary_data_output": draw(st.booleans())}
    return doc


@settings(FUZZ, max_examples=600)
@given(doc=mostly(v2_doc().flatmap(mutated)))
def test_v2_json_never_a_server_error(client: httpx.Client, doc: Any) -> None:
    body = dumps(doc)
    note(repr(body[:1000]))
    answer = client.post(
        f"/v2/models/{MODEL}/infer", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code < 500, answer.text


# -- V2 binary extension ---------------------------------------------------------------------
@st.composite
def binary_request(draw: st.DrawFn) -> tuple[bytes, str | bytes]:
    """A JSON header, then the tensor's bytes; sizes and lengths right, wrong or absurd."""
    rows = draw(st.integers(0, 3))
    kind = draw(st.sampled_from(DATATYPES))
    if kind == "BYTES":
        items = draw(st.lists(st.binary(max_size=6), min_size=rows * 4, max_size=rows * 4))
        blob = b"".join(struct.pack("<I", len(item)) + item for item in items)
    else:
        blob = draw(st.binary(min_size=rows * 4 * struct.calcsize(PACKED[kind])))[
            : rows * 4 * struct.calcsize(PACKED[kind])
        ]
    tensor = {
        "name": "input-0",
        "datatype": kind,
        "shape": draw(st.just([rows, 4]) | odd_shapes),
        "parameters": {"binary_data_size": len(blob)},
    }
    outputs = [{"name": "predict", "parameters": {"binary_data": draw(st.booleans())}}]
    header = dumps(draw(mutated({"inputs": [tensor], "outputs": outputs})))
    blob += draw(st.just(b"") | st.binary(max_size=8))
    body = header + blob
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body)))]
    length = draw(
        st.just(str(len(header)))
        | st.integers(-5, len(body) + 50).map(str)
        | st.sampled_from(["", "abc", "1e3", "+12", "1_0", "0x10", "9" * 30, "-0", "٣".encode()])
    )
    return body, length


@settings(FUZZ, max_examples=500)
@given(request=binary_request())
def test_v2_binary_never_a_server_error(
    client: httpx.Client, request: tuple[bytes, str | bytes]
) -> None:
    body, length = request
    note(repr((body[:1000], length)))
    answer = client.post(
        f"/v2/models/{MODEL}/infer",
        content=body,
        headers={
            "inference-header-content-length": length,
            "content-type": "application/octet-stream",
        },
    )
    assert answer.status_code < 500, answer.text


# -- gRPC ------------------------------------------------------------------------------------
CONTENTS = {
    "BOOL": ("bool_contents", st.booleans()),
    "INT8": ("int_contents", st.integers(-(2**31), 2**31 - 1)),
    "INT16": ("int_contents", st.integers(-(2**31), 2**31 - 1)),
    "INT32": ("int_contents", st.integers(-(2**31), 2**31 - 1)),
    "INT64": ("int64_contents", st.integers(-(2**63), 2**63 - 1)),
    "UINT8": ("uint_contents", st.integers(0, 2**32 - 1)),
    "UINT16": ("uint_contents", st.integers(0, 2**32 - 1)),
    "UINT32": ("uint_contents", st.integers(0, 2**32 - 1)),
    "UINT64": ("uint64_contents", st.integers(0, 2**64 - 1)),
    "FP16": ("fp32_contents", st.floats(width=32)),  # FP16 has no field: misplaced on purpose
    "FP32": ("fp32_contents", st.floats(width=32)),
    "FP64": ("fp64_contents", st.floats()),
    "BYTES": ("bytes_contents", st.binary(max_size=6)),
}
grpc_shapes = (
    st.lists(st.integers(-3, 6) | st.sampled_from([2**31, 2**62, 2**63 - 1, -(2**63)]), max_size=4)
    | odd_shapes
)
grpc_parameter = st.one_of(
    st.builds(lambda v: pb.InferParameter(bool_param=v), st.booleans()),
    st.builds(lambda v: pb.InferParameter(int64_param=v), st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda v: pb.InferParameter(string_param=v), st.text(max_size=8)),
    st.builds(lambda v: pb.InferParameter(double_param=v), st.floats()),
    st.just(pb.InferParameter()),
)


@st.composite
def grpc_request(draw: st.DrawFn) -> pb.ModelInferRequest:
    """A valid request (typed or raw, any datatype), then a few of the ways it can go wrong."""
    message = pb.ModelInferRequest(model_name=MODEL, id=draw(st.text(max_size=6)))
    raw = draw(st.booleans())
    for index in range(draw(st.integers(1, 2))):
        rows = draw(st.integers(0, 3))
        kind = draw(st.sampled_from(DATATYPES))
        tensor = message.inputs.add(name=f"input-{index}", datatype=kind, shape=[rows, 4])
        field, element = CONTENTS[kind]
        values = draw(st.lists(element, min_size=rows * 4, max_size=rows * 4))
        if raw and kind == "BYTES":
            message.raw_input_contents.append(
                b"".join(struct.pack("<I", len(v)) + v for v in values)
            )
        elif raw:
            size = rows * 4 * struct.calcsize(PACKED[kind])
            message.raw_input_contents.append(draw(st.binary(min_size=size, max_size=size)))
        else:
            getattr(tensor.contents, field).extend(values)
    for _ in range(draw(st.integers(0, 3))):
        tensor = draw(st.sampled_from(list(message.inputs)))
        mutation = draw(
            st.sampled_from(
                ["datatype", "shape", "name", "model", "raw", "contents", "param", "output"]
            )
        )
        if mutation == "datatype":
            tensor.datatype = draw(datatypes | st.text(max_size=5))
        elif mutation == "shape":
            tensor.shape[:] = draw(grpc_shapes)
        elif mutation == "name":
            tensor.name = draw(st.text(max_size=6))
        elif mutation == "model":
            message.model_name = draw(st.text(max_size=6))
            message.model_version = draw(st.text(max_size=3))
        elif mutation == "raw":
            message.raw_input_contents.append(draw(st.binary(max_size=16)))
        elif mutation == "contents":
            field, element = CONTENTS[draw(st.sampled_from(DATATYPES))]
            getattr(tensor.contents, field).extend(draw(st.lists(element, max_size=6)))
        elif mutation == "param":
            key = draw(st.sampled_from(["binary_data_size", "binary_data", "x", "ü"]))
            target = draw(st.sampled_from([tensor.parameters, message.parameters]))
            target[key].CopyFrom(draw(grpc_parameter))
        else:
            output = message.outputs.add(name=draw(st.sampled_from(["predict", "nope", ""])))
            output.parameters["binary_data"].CopyFrom(draw(grpc_parameter))
    return message


@settings(FUZZ, max_examples=600)
@given(message=grpc_request())
def test_grpc_model_infer_never_a_server_error(
    model_infer: Any, message: pb.ModelInferRequest
) -> None:
    note(repr(message)[:2000])
    code = grpc.StatusCode.OK
    try:
        model_infer(message, timeout=30)
    except grpc.RpcError as exc:
        code = exc.code()  # type: ignore[attr-defined]  # grpc.Call's, untyped
        note(str(exc))
    assert code not in SERVER_FAULTS
