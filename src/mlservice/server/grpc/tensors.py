"""Tensor data on the gRPC wire, both ways: raw little-endian bytes and typed `contents`.

Free of the generated stubs on purpose: their module registers package `inference` in
protobuf's default pool, which clashes with tritonclient's copy of the same package, and the
tests (which use tritonclient) check these conversions in their own process.

Typed float contents go out as a packed repeated field (a tag, a length, the little-endian
elements) that protobuf parses in one copy; a million FP32 values never become Python floats.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlservice.errors import InvalidInput
from mlservice.server.codecs.datatypes import deserialize_bytes, dtype_of, serialize_bytes
from mlservice.server.types import NDArray

# Each datatype's home in InferTensorContents (field number as in proto/inference.proto, and
# the element type that field holds); FP16 has none and travels only raw.
FIELDS: dict[str, tuple[str, int, str]] = {
    "BOOL": ("bool_contents", 1, "?"),
    "INT8": ("int_contents", 2, "<i4"),
    "INT16": ("int_contents", 2, "<i4"),
    "INT32": ("int_contents", 2, "<i4"),
    "INT64": ("int64_contents", 3, "<i8"),
    "UINT8": ("uint_contents", 4, "<u4"),
    "UINT16": ("uint_contents", 4, "<u4"),
    "UINT32": ("uint_contents", 4, "<u4"),
    "UINT64": ("uint64_contents", 5, "<u8"),
    "FP32": ("fp32_contents", 6, "<f4"),
    "FP64": ("fp64_contents", 7, "<f8"),
    "BYTES": ("bytes_contents", 8, "O"),
}
_LENGTH_DELIMITED = 2


def from_raw(raw: bytes, *, datatype: str, tensor: str) -> NDArray:
    """One entry of `raw_input_contents` as a flat array (read-only: it views the message)."""
    if datatype == "BYTES":
        return deserialize_bytes(raw, tensor=tensor)
    dtype = dtype_of(datatype, tensor=tensor).newbyteorder("<")
    if len(raw) % dtype.itemsize:
        raise InvalidInput(
            f"input {tensor!r} has {len(raw)} raw bytes, which is not a multiple of the "
            f"{datatype} element size {dtype.itemsize}."
        )
    return np.frombuffer(raw, dtype=dtype)


def to_raw(array: NDArray, *, datatype: str, tensor: str) -> bytes:
    """An output as one entry of `raw_output_contents`."""
    if datatype == "BYTES":
        return serialize_bytes(array)
    dtype = dtype_of(datatype, tensor=tensor).newbyteorder("<")
    return np.ascontiguousarray(array, dtype=dtype).tobytes()


def from_contents(values: Any, *, datatype: str, tensor: str) -> NDArray:
    """A flat array from the repeated field that holds `datatype` (already chosen by the caller).

    Narrow integer types arrive widened to 32 bits, so their range is checked here.
    """
    dtype = dtype_of(datatype, tensor=tensor)
    if datatype == "BYTES":
        out = np.empty(len(values), dtype=np.object_)
        out[:] = list(values)
        return out
    wide = np.array(values, dtype=FIELDS[datatype][2])
    if wide.dtype.itemsize > dtype.itemsize and wide.size:
        info = np.iinfo(dtype)
        low, high = wide.min(), wide.max()
        if low < info.min or high > info.max:
            bad = low if low < info.min else high
            raise InvalidInput(f"tensor {tensor!r} value {bad} is out of range for {datatype}.")
    return wide.astype(dtype, copy=False)


def contents_field(datatype: str, *, tensor: str) -> str:
    """The name of the repeated field `datatype` travels in, or a clear error for FP16."""
    entry = FIELDS.get(datatype)
    if entry is None:
        dtype_of(datatype, tensor=tensor)  # an unknown datatype gets the usual message
        raise InvalidInput(
            f"input {tensor!r} is {datatype}, which has no typed contents field; "
            "send it in raw_input_contents."
        )
    return entry[0]


def fill_contents(contents: Any, array: NDArray, *, datatype: str, tensor: str) -> None:
    """Put `array` into `datatype`'s field of `contents` (an InferTensorContents message)."""
    field, number, element = FIELDS[datatype]
    flat = array.reshape(-1)
    if element in ("<f4", "<f8"):
        # Fixed-width floats pack as their little-endian bytes: protobuf parses them in one copy.
        payload = np.ascontiguousarray(flat, dtype=element).tobytes()
        contents.MergeFromString(_key(number) + _varint(len(payload)) + payload)
    elif datatype == "BYTES":
        getattr(contents, field).extend([_as_bytes(item) for item in flat.tolist()])
    else:
        # Varint fields: extend() from a list beats building varints with numpy at every size.
        getattr(contents, field).extend(np.asarray(flat, dtype=element).tolist())


def _as_bytes(item: Any) -> bytes:
    return item if isinstance(item, bytes) else str(item).encode()


def _key(number: int) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
