"""V2 datatypes and numpy dtypes, both directions, with checks that name the tensor at fault."""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

from mlservice.errors import InvalidInput
from mlservice.server.types import NDArray

DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(np.object_),
}
SUPPORTED = ", ".join(DTYPES)
_BY_KIND_SIZE = {(d.kind, d.itemsize): name for name, d in DTYPES.items() if name != "BYTES"}

# Which numpy kinds (as parsed from JSON) each V2 kind accepts: JSON has no int/float split
# beyond the literal, so 1.0 is a float and must not silently truncate into an INT tensor.
_ACCEPTED_KINDS = {"b": "b", "i": "iu", "u": "iu", "f": "iuf"}


def dtype_of(datatype: str, *, tensor: str) -> np.dtype[Any]:
    dtype = DTYPES.get(datatype)
    if dtype is None:
        raise InvalidInput(
            f"tensor {tensor!r} has unsupported datatype {datatype!r} (supported: {SUPPORTED})."
        )
    return dtype


def reshape(array: NDArray, shape: list[int], *, tensor: str) -> NDArray:
    """`array` in the request's `shape`, or a 400: a count that does not match the data, or a
    shape numpy cannot build (65 dimensions, or [0, 2**62]: no elements, yet too big)."""
    expected = math.prod(shape)
    if array.size != expected:
        raise InvalidInput(
            f"input {tensor!r} has shape {shape}, which needs {expected} elements, "
            f"but its data has {array.size}."
        )
    if list(array.shape) == shape:
        return array
    try:
        return array.reshape(shape)
    except ValueError as exc:
        raise InvalidInput(
            f"input {tensor!r} shape {shape} is not a possible array: {exc}"
        ) from exc


def datatype_of(array: NDArray) -> str:
    """The V2 datatype for an array a model returned; strings and objects travel as BYTES."""
    kind = array.dtype.kind
    if kind in "OSU":
        return "BYTES"
    name = _BY_KIND_SIZE.get((kind, array.dtype.itemsize))
    if name is None:
        raise InvalidInput(f"numpy dtype {array.dtype} has no V2 datatype.")
    return name


def from_json_data(data: Any, *, datatype: str, tensor: str) -> NDArray:
    """Turn a JSON `data` list (flat or nested) into a flat-or-nested array of `datatype`."""
    dtype = dtype_of(datatype, tensor=tensor)
    if not isinstance(data, list):
        data = [data]
    if datatype == "BYTES":
        return _bytes_array(data, tensor=tensor)
    try:
        parsed = np.array(data)
    except ValueError as exc:
        raise InvalidInput(f"tensor {tensor!r} data is ragged or not numeric: {exc}.") from exc
    if parsed.size == 0:
        return parsed.astype(dtype)
    if dtype.kind in "iu" and parsed.dtype.kind in "fO":
        # numpy widens a mix of small ints and ints past INT64 to float64: retry exactly.
        return _exact_integers(data, dtype=dtype, datatype=datatype, tensor=tensor)
    if parsed.dtype.kind not in _ACCEPTED_KINDS.get(dtype.kind, ""):
        raise InvalidInput(
            f"tensor {tensor!r} has datatype {datatype} but its data holds "
            f"{_describe_kind(parsed.dtype.kind)}."
        )
    if dtype.kind in "iu" and parsed.dtype != dtype:
        _check_range(parsed, dtype=dtype, datatype=datatype, tensor=tensor)
    return parsed if parsed.dtype == dtype else parsed.astype(dtype)


def _exact_integers(
    data: list[Any], *, dtype: np.dtype[Any], datatype: str, tensor: str
) -> NDArray:
    flat = _flatten(data)
    if not all(type(item) is int for item in flat):
        raise InvalidInput(f"tensor {tensor!r} has datatype {datatype} but its data holds floats.")
    try:
        return np.array(flat, dtype=dtype)
    except OverflowError as exc:
        raise InvalidInput(f"tensor {tensor!r} has a value out of range for {datatype}.") from exc


def _check_range(parsed: NDArray, *, dtype: np.dtype[Any], datatype: str, tensor: str) -> None:
    info = np.iinfo(dtype)
    low, high = parsed.min(), parsed.max()
    if low < info.min or high > info.max:
        bad = low if low < info.min else high
        raise InvalidInput(f"tensor {tensor!r} value {bad} is out of range for {datatype}.")


def _describe_kind(kind: str) -> str:
    return {"b": "booleans", "f": "floats", "i": "integers", "u": "integers"}.get(
        kind, "non-numeric values"
    )


def _bytes_array(data: list[Any], *, tensor: str) -> NDArray:
    flat = _flatten(data)
    out = np.empty(len(flat), dtype=np.object_)
    for i, item in enumerate(flat):
        if not isinstance(item, str):
            raise InvalidInput(f"tensor {tensor!r} is BYTES but element {i} is not a string.")
        out[i] = item.encode()
    return out


def _flatten(data: list[Any]) -> list[Any]:
    if not any(isinstance(item, list) for item in data):
        return data
    flat: list[Any] = []
    for item in data:
        flat.extend(_flatten(item) if isinstance(item, list) else [item])
    return flat


def to_json_data(array: NDArray, *, datatype: str, tensor: str) -> Any:
    """Flat row-major data for JSON; numeric arrays go to orjson as arrays (no Python lists)."""
    if datatype == "BYTES":
        return [_as_text(item, tensor=tensor) for item in array.reshape(-1).tolist()]
    flat = array.reshape(-1)
    return flat if flat.flags.c_contiguous else np.ascontiguousarray(flat)


def _as_text(item: Any, *, tensor: str) -> str:
    if isinstance(item, bytes):
        try:
            return item.decode()
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"output {tensor!r} holds non-UTF-8 bytes; request it with binary_data."
            ) from exc
    return str(item)


def serialize_bytes(array: NDArray) -> bytes:
    """BYTES on the binary extension: each element as a 4-byte little-endian length + bytes."""
    parts: list[bytes] = []
    for item in array.reshape(-1).tolist():
        raw = item if isinstance(item, bytes) else str(item).encode()
        parts.append(struct.pack("<I", len(raw)))
        parts.append(raw)
    return b"".join(parts)


def deserialize_bytes(buffer: bytes | memoryview, *, tensor: str) -> NDArray:
    items: list[bytes] = []
    view = memoryview(buffer)
    offset = 0
    while offset < len(view):
        if offset + 4 > len(view):
            raise InvalidInput(f"tensor {tensor!r} BYTES data ends inside a length prefix.")
        (length,) = struct.unpack_from("<I", view, offset)
        offset += 4
        if offset + length > len(view):
            raise InvalidInput(f"tensor {tensor!r} BYTES element overruns its binary data.")
        items.append(bytes(view[offset : offset + length]))
        offset += length
    out = np.empty(len(items), dtype=np.object_)
    out[:] = items
    return out
